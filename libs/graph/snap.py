"""ESA SNAP, the engine of the Sentinel-1 steps: where its `gpt` is expected and what to say when it is
missing (the reference: `SNAP not found: <path>`, here with what to install)."""

from __future__ import annotations

import os
import pathlib

DEFAULT_GPT = pathlib.Path("/usr/local/snap/bin/gpt")  # the reference's SNAPPATH default
# The Sentinel-1 built-in graphs of the reference, whose steps run SNAP graphs (spec §6.10).
BUILT_IN_GRAPHS = frozenset({"S1Preprocessing", "S1BackscatterCoherence", "S1CoregExtract"})


def installed(gpt: pathlib.Path = DEFAULT_GPT) -> bool:
    return os.access(gpt, os.X_OK)


def not_found(gpt: pathlib.Path, needed_by: str) -> str:
    return (
        f"SNAP not found: {gpt} ({needed_by} runs ESA SNAP's gpt; install ESA SNAP 9 or later with its"
        " Sentinel-1 Toolbox from https://step.esa.int/main/download/snap-download/ so that gpt is there)"
    )
