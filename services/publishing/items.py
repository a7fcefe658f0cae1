"""STAC items of the files a task indexed, for publishing: one item per indexed file (dataset), in one
collection per AOI. Geometry, bbox and the projection fields are read from the file itself (still in
the task's working directory), the datetime is the scene's (the record's time).

The full item (raster/eo extensions, the static catalog) is the STAC module's; this builder gives the
publisher what the Transactions API needs and is kept minimal on purpose.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import pystac
import rasterio
import rasterio.warp
import shapely
from pystac.extensions.projection import ProjectionExtension

from services.processor.indexing import ToIndex
from services.storage import naming

_MEDIA_TYPES = {"tif": pystac.MediaType.COG, "tiff": pystac.MediaType.COG, "jp2": pystac.MediaType.JPEG2000}


def item_for(item: ToIndex, workdir: pathlib.Path, instance_id: str) -> pystac.Item:
    tile, out_file = item.tile, item.out_file
    local = workdir / naming.layer_file_name(tile, out_file.layer, out_file.extension)
    with rasterio.open(local) as dataset:
        crs = dataset.crs
        bounds = dataset.bounds
        shape = [dataset.height, dataset.width]
        transform = list(dataset.transform)[:6]
    footprint = shapely.box(*bounds)
    if crs is not None and crs.to_epsg() != 4326:
        geometry = rasterio.warp.transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(footprint))
        footprint = shapely.geometry.shape(geometry)
    stac_item = pystac.Item(
        id=local.name.rsplit(".", 1)[0],
        geometry=shapely.geometry.mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=tile.scene.data.date,
        properties={
            "ingester:aoi": tile.scene.aoi,
            "ingester:scene": tile.scene.source_id,
            "ingester:tile": tile.source_id,
            "ingester:layer": out_file.layer,
            "ingester:record_id": tile.scene.data.record_id,
            "ingester:instance_id": instance_id,
        },
        collection=tile.scene.aoi,
    )
    projection = ProjectionExtension.ext(stac_item, add_if_missing=True)
    projection.code = crs.to_string() if crs is not None else None
    projection.shape = shape
    projection.transform = transform
    stac_item.add_asset(
        "data",
        pystac.Asset(
            href=item.uri,
            media_type=_MEDIA_TYPES.get(out_file.extension.lower().lstrip("."), None),
            roles=["data"],
        ),
    )
    return stac_item


def items_for(
    to_index: Sequence[ToIndex], workdir: pathlib.Path, instances: Sequence[str]
) -> list[pystac.Item]:
    return [item_for(item, workdir, instance) for item, instance in zip(to_index, instances, strict=True)]
