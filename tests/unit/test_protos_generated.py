"""The committed generated modules must be exactly what the pinned grpcio-tools makes of the .proto files."""

from __future__ import annotations

import pathlib

from protos import generate


def test_generated_files_are_up_to_date(tmp_path: pathlib.Path) -> None:
    generate.generate(tmp_path)
    fresh = sorted((tmp_path / "protos" / "ingester" / "v1").glob("*_pb2*.py*"))
    assert fresh, "protoc generated nothing"
    for path in fresh:
        committed = generate.PROTO_DIR / path.name
        assert committed.is_file(), f"{path.name} is not committed: run python -m protos.generate"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} is stale: run python -m protos.generate"
