"""The committed generated modules must be exactly what the pinned grpcio-tools makes of the .proto files."""

from __future__ import annotations

import pathlib

from protos import generate


def test_generated_files_are_up_to_date(tmp_path: pathlib.Path) -> None:
    generate.generate(tmp_path)
    for folder in generate.PROTO_DIRS:
        _compare(tmp_path / folder.relative_to(generate.ROOT), folder)


def _compare(generated: pathlib.Path, committed_dir: pathlib.Path) -> None:
    fresh = sorted(generated.glob("*_pb2*.py*"))
    assert fresh, f"protoc generated nothing for {committed_dir}"
    for path in fresh:
        committed = committed_dir / path.name
        assert committed.is_file(), f"{path.name} is not committed: run python -m protos.generate"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} is stale: run python -m protos.generate"
