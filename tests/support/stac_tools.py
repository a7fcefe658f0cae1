"""The community STAC validators, run offline in a subprocess: stac-validator on a static catalog,
stac-api-validator on a STAC API.

Offline means: the validators read the STAC core JSON schemas pystac ships (`schema_map`), and the
extension schemas (projection, raster, eo), which no installable package ships, are not fetched; the
tests check the extension fields through pystac's extension classes instead (docs/stac.md). A guard
refuses any connection to a host other than loopback, so a validator that still tries the network
fails the test instead of leaving the machine.

Run as `python -m tests.support.stac_tools static <catalog.json>` or `... api <root> <collection>
<geometry> <token>`; prints one JSON object {"valid", "validated", "report"}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.resources
import json
import pathlib
import socket
import sys
import warnings
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
_TIMEOUT = 300.0


@dataclasses.dataclass(frozen=True)
class Result:
    valid: bool
    validated: int
    report: str


async def _run(*args: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.stac_tools",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), _TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    try:
        doc = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Result(False, 0, f"exit {process.returncode}: {out.decode()}\n{err.decode()}")
    return Result(bool(doc["valid"]), int(doc["validated"]), doc["report"])


async def run_stac_validator(catalog_file: pathlib.Path) -> Result:
    return await _run("static", str(catalog_file))


async def run_stac_api_validator(root_url: str, collection: str, geometry: str, token: str) -> Result:
    return await _run("api", root_url, collection, geometry, token)


# --- inside the subprocess ------------------------------------------------------------------------


def _guard_network() -> None:
    """Only loopback: a resolver that refuses every other name."""
    original = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test guard: no network access outside loopback ({name})")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = loopback_only  # type: ignore[assignment]


def _core_schema_map() -> dict[str, str]:
    """Remote URI -> local file of every core schema pystac ships (STAC 1.1.0 and GeoJSON)."""
    base = importlib.resources.files("pystac.validation.jsonschemas")
    mapping = {}
    for path in (pathlib.Path(str(base)) / "stac-spec" / "v1.1.0").glob("*.json"):
        name = path.stem
        spec = name if name in ("catalog", "collection") else "item"
        mapping[f"https://schemas.stacspec.org/v1.1.0/{spec}-spec/json-schema/{path.name}"] = str(path)
    for path in (pathlib.Path(str(base)) / "geojson").glob("*.json"):
        mapping[f"https://geojson.org/schema/{path.name}"] = str(path)
    return mapping


def _static(catalog_file: str) -> dict[str, Any]:
    """stac-validator on every file of the tree. Its own recursive mode also validates extensions
    (network), so the tree is walked with pystac and each file validated in core mode."""
    import pystac
    from stac_validator.validate import StacValidate

    catalog = pystac.Catalog.from_file(catalog_file)
    files = [catalog_file]
    for _, children, items in catalog.walk():
        files.extend(c.get_self_href() or "" for c in children)
        files.extend(i.get_self_href() or "" for i in items)
    messages, valid = [], True
    schema_map = _core_schema_map()
    for path in files:
        validator = StacValidate(path, core=True, schema_map=schema_map)
        valid = validator.run() and valid
        messages.extend(validator.message)
    bad = [m for m in messages if not m.get("valid_stac", False)]
    return {
        "valid": valid and not bad,
        "validated": len(messages),
        "report": json.dumps(bad or messages)[:20000],
    }


def _offline_pystac() -> None:
    """pystac validates the core against its own schemas; the extension step would need the network."""
    import pystac.validation
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    class CoreOnly(JsonSchemaSTACValidator):
        def validate_extension(self, *args: Any, **kwargs: Any) -> None:
            return None

    pystac.validation.set_validator(CoreOnly())


def _api(root_url: str, collection: str, geometry: str, token: str) -> dict[str, Any]:
    import stac_check.lint
    from stac_api_validator import validations
    from stac_validator.validate import StacValidate

    _offline_pystac()
    # Both validate with stac-validator (stac-check through its linter): core schemas from pystac.
    offline = functools.partial(StacValidate, core=True, schema_map=_core_schema_map())
    validations.StacValidate = offline
    stac_check.lint.StacValidate = offline
    warnings_, errors = validations.validate_api(
        root_url=root_url,
        ccs_to_validate=["core", "collections", "features", "item-search"],
        collection=collection,
        geometry=geometry,
        auth_bearer_token=token,
        auth_query_parameter=None,
        fields_nested_property=None,
        validate_pagination=True,
        query_config=validations.QueryConfig(
            None, None, None, None, None, None, None, None, None, None, None, None, None
        ),
        transaction_collection=None,
        headers={"Authorization": f"Bearer {token}"},
        open_assets_urls=False,
    )
    report = {"errors": errors.errors, "warnings": warnings_.errors}
    return {"valid": not errors.errors, "validated": 1, "report": json.dumps(report, default=str)}


def main(argv: list[str]) -> None:
    _guard_network()
    warnings.simplefilter("ignore", DeprecationWarning)  # stac_validator announces its rename
    if argv[0] == "static":
        doc = _static(argv[1])
    else:
        doc = _api(*argv[1:5])
    print(json.dumps(doc))


if __name__ == "__main__":
    main(sys.argv[1:])
