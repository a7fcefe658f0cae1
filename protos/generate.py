"""Regenerates the Python modules of protos/ingester/v1 (our API) and protos/geocube/v1 (the subset of the
Geocube server's API we call) from the .proto files.

Run from anywhere: `python -m protos.generate`. The generated files are committed; a test regenerates
them into a temporary folder and compares bytes, so a stale file fails the suite.
"""

from __future__ import annotations

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos" / "ingester" / "v1"
PROTO_DIRS = (PROTO_DIR, ROOT / "protos" / "geocube" / "v1")


def generate(out_dir: pathlib.Path = ROOT) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for folder in PROTO_DIRS for p in folder.glob("*.proto"))
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
