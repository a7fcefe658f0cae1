"""Which scene sources serve which constellation, from the catalogue settings.

`GEOCUBE_CATALOGUE_SCENE_SOURCES` lists, per constellation, source names in fallback order:
`sentinel1=cdse,archive;sentinel2=cdse,stac;landsat89=usgs-stac`. The inventory asks them in that
order and keeps the first answer (spec §3.1). With nothing configured, the local archive serves every
constellation (the offline default); a constellation the setting leaves out is served by the archive
when there is one, so adding a remote source for one constellation never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from services.catalogue.search import remote
from services.catalogue.search.archive_source import ArchiveSource
from services.catalogue.search.cdse_odata import SUPPORTED as CDSE_SUPPORTED
from services.catalogue.search.cdse_odata import CdseODataSource
from services.catalogue.search.inventory import SceneSource
from services.catalogue.search.stac import StacConfig, StacSource
from libs.domain import products
from libs.domain.products import Constellation
from libs.runtime.errors import InvalidArgument

if TYPE_CHECKING:
    from services.catalogue.settings import CatalogueSettings

SETTING = "GEOCUBE_CATALOGUE_SCENE_SOURCES"
NAMES = ("archive", "cdse", "stac", "usgs-stac")
# Names an operator may use for a constellation besides the payload names (`landsat` is not one).
_ALIASES = {"landsat": Constellation.LANDSAT89}


def constellation(name: str, setting: str) -> Constellation:
    found = _ALIASES.get(name.strip().lower()) or products.parse_constellation(name.strip())
    if found is Constellation.UNKNOWN:
        raise InvalidArgument(setting, f"unknown constellation {name!r}")
    return found


def parse_chains(text: str, setting: str = SETTING) -> dict[Constellation, list[str]]:
    """`sentinel1=cdse,archive;landsat89=usgs-stac` → {SENTINEL1: ["cdse", "archive"], …}."""
    chains: dict[Constellation, list[str]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = entry.partition("=")
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        if not sep or not names:
            raise InvalidArgument(setting, f"expected <constellation>=<source>[,<source>…], got {entry!r}")
        for name in names:
            if name not in NAMES:
                raise InvalidArgument(setting, f"unknown source {name!r} (known: {', '.join(NAMES)})")
        chains[constellation(key, setting)] = names
    return chains


def parse_collections(text: str, setting: str) -> dict[Constellation, str]:
    """`sentinel2=sentinel-2-l1c;sentinel1=sentinel-1-grd` → {SENTINEL2: "sentinel-2-l1c", …}."""
    collections = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = entry.partition("=")
        if not sep or not value.strip():
            raise InvalidArgument(setting, f"expected <constellation>=<collection>, got {entry!r}")
        collections[constellation(key, setting)] = value.strip()
    return collections


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def build(settings: CatalogueSettings, archive: SceneSource | None) -> dict[Constellation, list[SceneSource]]:
    """The fallback chain of every constellation. Raises InvalidArgument naming the bad setting."""
    chains = parse_chains(settings.scene_sources)
    prefix = "GEOCUBE_CATALOGUE_"

    def options(token: str) -> remote.HttpOptions:
        return remote.HttpOptions(
            timeout=settings.source_timeout,
            retries=settings.source_retries,
            backoff=settings.source_backoff,
            headers=_bearer(token),
        )

    made: dict[str, SceneSource] = {}

    def make(name: str) -> SceneSource:
        factories: dict[str, Callable[[], SceneSource]] = {
            "cdse": lambda: CdseODataSource(
                settings.cdse_odata_url,
                settings.cdse_download_url,
                options(settings.cdse_token),
                page_size=min(settings.source_page_size, 1000),  # CDSE refuses $top above 1000
                max_scenes=settings.source_max_scenes,
            ),
            "stac": lambda: StacSource(
                StacConfig(
                    "stac",
                    settings.stac_url,
                    parse_collections(settings.stac_collections, prefix + "STAC_COLLECTIONS"),
                    options=options(settings.stac_token),
                    page_size=settings.source_page_size,
                    max_scenes=settings.source_max_scenes,
                )
            ),
            "usgs-stac": lambda: StacSource(
                StacConfig(
                    "usgs-stac",
                    settings.usgs_stac_url,
                    {Constellation.LANDSAT89: settings.usgs_stac_collection},
                    reference_landsat=True,
                    options=options(""),
                    page_size=settings.source_page_size,
                    max_scenes=settings.source_max_scenes,
                )
            ),
        }
        if name not in made:
            made[name] = factories[name]()
        return made[name]

    if isinstance(archive, ArchiveSource):
        archive.named_for = frozenset(c for c, names in chains.items() if "archive" in names)
    result: dict[Constellation, list[SceneSource]] = {}
    for wanted in Constellation:
        if wanted is Constellation.UNKNOWN:
            continue
        names = chains.get(wanted, ["archive"] if archive is not None else [])
        chain: list[SceneSource] = []
        for name in names:
            if name == "archive":
                if archive is None:
                    raise InvalidArgument(SETTING, "source 'archive' needs GEOCUBE_CATALOGUE_ARCHIVE_PATH")
                chain.append(archive)
                continue
            source = make(name)
            if not _supports(source, wanted):
                raise InvalidArgument(SETTING, f"source {name!r} has no {wanted.value} scenes")
            chain.append(source)
        if chain:
            result[wanted] = chain
    return result


def _supports(source: SceneSource, wanted: Constellation) -> bool:
    if isinstance(source, CdseODataSource):
        return wanted in CDSE_SUPPORTED
    if isinstance(source, StacSource):
        return wanted in source.config.collections
    return True
