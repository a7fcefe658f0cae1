"""The dashboard's vendored front-end files are exactly what scripts/build-ui took from the locked npm
packages, they ship in the Python package, and the page loads nothing from elsewhere."""

from __future__ import annotations

import glob
import hashlib
import json
import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATIC = ROOT / "gateway" / "static"
VENDOR = STATIC / "vendor"


def _manifest() -> dict[str, dict[str, object]]:
    packages: dict[str, dict[str, object]] = json.loads((VENDOR / "MANIFEST.json").read_text())["packages"]
    return packages


def test_vendored_files_match_the_manifest() -> None:
    manifest = _manifest()
    assert manifest, "MANIFEST.json lists no package"
    on_disk = {
        str(path.relative_to(VENDOR))
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name != "MANIFEST.json"
    }
    listed = set()
    for name, entry in manifest.items():
        files = entry["files"]
        assert isinstance(files, dict)
        for relative, sha256 in files.items():
            path = VENDOR / name / relative
            listed.add(f"{name}/{relative}")
            assert path.is_file(), f"{path} is in the manifest but missing: run scripts/build-ui"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, f"{path} was edited by hand"
    assert on_disk == listed, "files in gateway/static/vendor that scripts/build-ui did not write"


def test_manifest_names_the_locked_packages() -> None:
    lock = json.loads((ROOT / "ui" / "package-lock.json").read_text())
    wanted = json.loads((ROOT / "ui" / "package.json").read_text())["dependencies"]
    manifest = _manifest()
    assert set(manifest) == set(wanted)
    for name, entry in manifest.items():
        locked = lock["packages"][f"node_modules/{name}"]
        # Exact pins: a range would let `npm ci` on another day vendor other bytes than the lock names.
        assert wanted[name] == locked["version"] == entry["version"]
        assert str(locked["integrity"]).startswith("sha512-")
        assert entry["integrity"] == locked["integrity"]


def test_static_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["gateway"]
    shipped = {
        match
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=ROOT / "gateway", recursive=True)
    }
    for path in STATIC.rglob("*"):
        if path.is_file():
            assert str(path.relative_to(ROOT / "gateway")) in shipped, (
                f"{path} would be missing from the wheel"
            )


def test_page_loads_only_from_the_gateway() -> None:
    page = (STATIC / "index.html").read_text()
    references = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert references, "the page references no script or style"
    for reference in references:
        assert reference.startswith("/ui/static/") or reference == "data:,", reference
        if reference.startswith("/ui/static/"):
            assert (STATIC / reference.removeprefix("/ui/static/")).is_file(), reference
