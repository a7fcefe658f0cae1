"""Settings of the catalogue process (env prefix GEOCUBE_CATALOGUE_)."""

from __future__ import annotations

import dataclasses

from libs.geocube.settings import GeocubeSettings
from libs.runtime.auth import ServerSecuritySettings
from libs.storage.config import ObjectStoreSettings

PREFIX = "GEOCUBE_CATALOGUE_"


@dataclasses.dataclass(frozen=True)
class CatalogueSettings(ObjectStoreSettings, ServerSecuritySettings, GeocubeSettings):
    # (Tokens and TLS of the gRPC server: the fields of ServerSecuritySettings, libs/runtime/auth.py.)
    # PostgreSQL connection string. Empty: the command-line tool starts an embedded PostgreSQL; the
    # standard PG* variables are honoured by libpq for any part the DSN leaves out.
    database_dsn: str = ""
    # gRPC listen address (host:port; port 0 picks a free one).
    address: str = "127.0.0.1:50051"
    # Folder of products served by the local archive scene source ("" = none).
    archive_path: str = ""
    # Scene sources per constellation in fallback order, e.g.
    # "sentinel1=cdse,archive;sentinel2=cdse,stac;landsat89=usgs-stac" (names: archive, cdse, stac,
    # usgs-stac). Empty: the archive serves everything; a constellation left out keeps the archive.
    # See docs/sources.md.
    scene_sources: str = ""
    # Copernicus Data Space OData catalogue (searched) and download service (`metadata.download_link`).
    cdse_odata_url: str = "https://catalogue.dataspace.copernicus.eu/odata/v1"
    cdse_download_url: str = "https://download.dataspace.copernicus.eu/odata/v1"
    # The "stac" source: any STAC API, and its collection per constellation ("sentinel2=<id>;…").
    stac_url: str = "https://earth-search.aws.element84.com/v1"
    stac_collections: str = "sentinel2=sentinel-2-l1c"
    # The "usgs-stac" source: Landsat 8/9 Collection 2 Level-1, queried as the reference does.
    usgs_stac_url: str = "https://landsatlook.usgs.gov/stac-server"
    usgs_stac_collection: str = "landsat-c2l1"
    # Remote sources: seconds per request, retries of network errors/408/429/5xx (attempts start at 0, b,
    # 3b, 7b s; Retry-After is ignored), page size asked for, and the most scenes a search with limit 0
    # may return.
    source_timeout: float = 30.0
    source_retries: int = 3
    source_backoff: float = 1.0
    source_page_size: int = 500
    source_max_scenes: int = 10000
    # Optional bearer tokens sent to the CDSE catalogue / the "stac" source; never logged (repr=False).
    cdse_token: str = dataclasses.field(default="", repr=False)
    stac_token: str = dataclasses.field(default="", repr=False)
    # Sentinel-1 burst tiling: annotation URL patterns tried before each payload's `annotations_urls`
    # (the reference's --annotations-urls), comma-separated: paths, file://, http(s)://, s3://, gs:// with
    # {SCENE}, {YEAR}… placeholders, e.g. "s3://s1-archive/{YEAR}/{MONTH}/{SCENE}.SAFE.zip".
    annotations_urls: tuple[str, ...] = ()
    # Remote origins ("https://host[:port]", "s3://bucket", "gs://bucket", comma-separated) a payload's own
    # `annotations_urls` may name, besides those of the patterns above; other remote places in payloads
    # are refused, so that a payload can neither receive our credentials nor make us fetch internal URLs.
    annotations_allowed_origins: tuple[str, ...] = ()
    # Bearer token sent to the http(s):// annotation places above (configured or allowed); never logged.
    annotations_bearer_token: str = dataclasses.field(default="", repr=False)
    # (Object stores holding annotations: the fields of ObjectStoreSettings, see docs/storage.md.)
    # The workers' GRAPH_PATH, STORAGE_URI and STORAGE_ALLOWED_URIS (comma-separated lists), mirrored so
    # that ingestion refuses graph names and storage URIs the workers would refuse (payload.py). With
    # no storage root set, payload storage URIs are checked by the workers only.
    graph_path: tuple[str, ...] = ()
    storage_uri: str = ""
    storage_allowed_uris: tuple[str, ...] = ()
    # (Layers and records in a Geocube server: the fields of GeocubeSettings, see docs/geocube.md.)
    # A leased task whose worker sends no heartbeat for this long goes back to the queue.
    lease_seconds: float = 60.0
    # Attempts of a task failing transiently (or losing its lease) before its item ends FAILED.
    max_attempts: int = 5
    # Database connection pool size.
    pool_size: int = 10
    # Prometheus metrics HTTP server (host:port, e.g. 0.0.0.0:9101; port 0 picks one). Empty: none.
    metrics_address: str = ""
    log_level: str = "INFO"
    log_json: bool = False
