"""The AOI report (counts per status, root tiles, date span) as the reference's text report needs it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from protos.ingester.v1 import catalogue_pb2
from services.catalogue.store import aois, graph
from libs.domain import models


def _counts(by_status: dict[str, int]) -> catalogue_pb2.StatusCounts:
    return catalogue_pb2.StatusCounts(
        new=by_status.get("NEW", 0),
        pending=by_status.get("PENDING", 0),
        done=by_status.get("DONE", 0),
        retry=by_status.get("RETRY", 0),
        failed=by_status.get("FAILED", 0),
        total=sum(by_status.values()),
    )


async def aoi_report(conn: Any, aoi: str) -> catalogue_pb2.GetAoiReportResponse:
    scenes, tiles = await aois.status_counts(conn, aoi)
    roots, first, last = await graph.root_leaf_summary(conn, aoi)
    out = catalogue_pb2.GetAoiReportResponse(scenes=_counts(scenes), tiles=_counts(tiles), root_tiles=roots)
    # The reference starts `From` at now and `To` at the zero time, so an empty AOI shows those.
    getattr(out, "from").FromDatetime(first or dt.datetime.now(dt.UTC))  # `from` is a keyword
    if last is not None and last != models.ZERO_TIME:
        out.to.FromDatetime(last)
    return out
