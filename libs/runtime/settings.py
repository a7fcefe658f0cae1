"""Reading settings from the environment, shared by every process.

Each process has one frozen dataclass of settings, built once in main() by `from_env(cls, prefix)`: a
field `storage_uri` of a class read with prefix `GEOCUBE_PROCESSOR_` comes from
`GEOCUBE_PROCESSOR_STORAGE_URI`. Nothing reads the environment at import time.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from libs.runtime.errors import InvalidArgument

T = TypeVar("T")


def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise InvalidArgument(name, f"expected a boolean, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise InvalidArgument(name, f"expected a number, got {raw!r}") from None
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def from_env(cls: type[T], prefix: str, environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Builds `cls` from `<prefix><FIELD>` variables; `overrides` win over the environment."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        var = prefix + field.name.upper()
        if var in environ:
            values[field.name] = _convert(var, environ[var], hints[field.name])
    return cls(**values)
