"""The catalogue's layers and records in a Geocube server (spec §2.3 step 4, §3.5 step 4): the reference's
sequence, GetVariable per layer, one ListRecords over the scenes' union, CreateAOI per new record and one
CreateRecords, then DeleteRecords of the records an ingestion created but did not use."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import shapely
import shapely.errors

from libs.domain import models, wkt
from libs.geocube.client import GeocubeClient, GeocubeError, NewRecord
from libs.runtime.errors import InvalidArgument, Unavailable

logger = logging.getLogger(__name__)

# The reference simplifies the union of the footprints with this tolerance (degrees) before ListRecords.
_UNION_TOLERANCE = 1e-6
# Set by the processor after indexation: not part of a record's identity.
PROCESSING_DATE_TAG = "processingDate"


def _unavailable(exc: GeocubeError) -> Unavailable | GeocubeError:
    """An outage is our common UNAVAILABLE (503, "retry later"). Its text comes from our gRPC channel
    (addresses, resolver errors): logged, not answered. The Geocube's other answers keep their own
    mapping (GeocubeError.code) and text."""
    if not exc.temporary:
        return exc
    logger.warning("%s", exc)
    return Unavailable(f"the Geocube is unavailable ({exc.method}: {exc.geocube_code.name}), retry later")


def _footprint(scene: models.CatalogScene) -> shapely.Geometry:
    """The scene's footprint (EPSG:4326), the AOI of its Geocube record."""
    try:
        # libs/domain/wkt: shapely's own parser raised UnicodeDecodeError on non-ASCII text.
        geometry = wkt.from_wkt(scene.wkt) if scene.wkt else None
    except shapely.errors.GEOSException as exc:
        raise InvalidArgument("scenes", f"scene[{scene.source_id}]: unreadable footprint: {exc}") from None
    if geometry is None or geometry.is_empty:
        raise InvalidArgument("scenes", f"scene[{scene.source_id}] has no footprint: its record needs one")
    return shapely.make_valid(geometry)


class GeocubeRecords:
    """`resolve_layers` / `attach` / `discard` (the seam services/catalogue/ingestion.py calls)."""

    in_transaction = False  # remote calls: made before the ingestion's transaction opens

    def __init__(self, client: GeocubeClient):
        self._client = client

    async def resolve_layers(self, area: models.Area) -> dict[str, str]:
        """layer name -> instance id, each checked against the Geocube's variables. The area is validated
        (services/catalogue/payload.py): each layer names an instance by id, or by variable and instance."""
        instances = {}
        for name, layer in sorted(area.layers.items()):
            field = f"layers.{name}"
            try:
                if layer.instance_id:
                    variable = await self._client.get_variable(instance_id=layer.instance_id)
                    if variable is None or layer.instance_id not in variable.instances.values():
                        raise InvalidArgument(
                            field, f"unknown instance id {layer.instance_id} in the Geocube"
                        )
                    instances[name] = layer.instance_id
                    continue
                variable = await self._client.get_variable(name=layer.variable)
            except GeocubeError as exc:
                raise _unavailable(exc) from exc
            if variable is None:
                raise InvalidArgument(field, f"unknown variable {layer.variable} in the Geocube")
            if layer.instance not in variable.instances:
                raise InvalidArgument(
                    field, f"unknown instance {layer.instance} for variable {layer.variable} in the Geocube"
                )
            instances[name] = variable.instances[layer.instance]
        return instances

    async def attach(self, conn: Any, area: models.Area, scenes: Sequence[models.CatalogScene]) -> list[str]:
        """Sets every scene's record_id: an existing Geocube record of the same name, date and tags, else
        the scene's own record_id (uploaded scenes), else a new record. Returns the ids created here, for
        `discard` when the ingestion does not keep them. (`conn`: unused, the records live in the Geocube.)"""
        if not scenes:
            return []
        footprints = [_footprint(s) for s in scenes]
        union = shapely.union_all(footprints).simplify(_UNION_TOLERANCE)
        try:
            existing = await self._client.list_records(
                tags=area.record_tags,
                aoi=union,
                from_time=min(s.data.date for s in scenes),
                to_time=max(s.data.date for s in scenes),
            )
            by_name: dict[str, list[Any]] = {}
            for record in existing:
                by_name.setdefault(record.name, []).append(record)
            missing = []
            for scene, footprint in zip(scenes, footprints, strict=True):
                for record in by_name.get(scene.source_id, []):
                    tags = {k: v for k, v in record.tags.items() if k != PROCESSING_DATE_TAG}
                    if record.time == scene.data.date and tags == scene.tags:
                        scene.data.record_id = record.id
                        break
                else:
                    if not scene.data.record_id:  # an uploaded scene keeps the record it names
                        missing.append((scene, footprint))
            if not missing:
                return []
            new_records = [
                NewRecord(
                    scene.source_id, scene.data.date, dict(scene.tags), await self._client.create_aoi(fp)
                )
                for scene, fp in missing
            ]
            ids = await self._client.create_records(new_records)
        except GeocubeError as exc:
            raise _unavailable(exc) from exc
        for (scene, _), record_id in zip(missing, ids, strict=True):
            scene.data.record_id = record_id
        logger.info(
            "created %d record(s) in the Geocube for AOI %s", len(ids), area.name, extra={"aoi": area.name}
        )
        return ids

    async def discard(self, record_ids: Sequence[str]) -> None:
        """Deletes records created for scenes the ingestion did not keep; a failure is only logged (the
        reference does the same: an unused record is harmless)."""
        try:
            deleted = await self._client.delete_records(record_ids)
        except GeocubeError as exc:
            logger.warning("cannot delete %d unused Geocube record(s): %s", len(record_ids), exc)
            return
        logger.info("deleted %d unused Geocube record(s)", deleted)
