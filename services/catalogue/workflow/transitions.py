"""Scene and tile transitions (spec §5.6-5.7). Each function runs inside the caller's transaction and
queues the tasks the transition releases, so the status change and the queue change commit together.

Deliberate differences from the reference (docs/compatibility.md): a child released by a failure healing
is only dispatched when its new previous tile is absent or DONE, and releasing it does not decrement its
retry countdown.
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg import AsyncConnection

from services.catalogue.store import aois, graph, tasks
from libs.domain.models import Status
from libs.runtime.errors import FailedPrecondition, NotFound

logger = logging.getLogger(__name__)
Conn = AsyncConnection[Any]


async def update_scene(conn: Conn, scene_id: int, requested: Status, message: str | None,
                       must_exist: bool = False) -> bool:
    """Non-forced scene transition; False when the current status refuses it (nothing changes)."""
    await aois.lock_aoi_of_scene(conn, scene_id)  # first: transitions of an AOI are serialised
    scene = await aois.get_scene(conn, scene_id, lock=True)
    if scene is None and must_exist:
        raise NotFound(f"scene {scene_id} not found")
    if scene is None or scene.status == requested:
        return False
    current = scene.status
    if requested != Status.PENDING and current in (Status.PENDING, Status.RETRY):
        # A manual DONE/FAILED/RETRY: a worker still holding the download must not report over it.
        await graph.cancel_scene_task(conn, scene_id)
    if current in (Status.PENDING, Status.RETRY) and requested == Status.DONE:
        await aois.finish_scene(conn, scene_id, force=True)  # status checked just above
    elif current == Status.PENDING and requested == Status.RETRY:
        if scene.retry_countdown > 0:
            await retry_scene(conn, scene_id)
            # An automatic retry ends PENDING: the AOI status is recomputed, not set to RETRY (the
            # reference turns the requested status into PENDING before refreshing the AOI).
            requested = Status.PENDING
        else:
            await aois.set_scene_status(conn, scene_id, Status.RETRY, message)
    elif current == Status.RETRY and requested == Status.PENDING:
        await retry_scene(conn, scene_id)
    elif current in (Status.PENDING, Status.RETRY) and requested == Status.FAILED:
        await fail_scene(conn, scene_id, message)
    else:
        logger.warning("scene %s: refused transition %s -> %s", scene_id, current.value, requested.value)
        return False
    await aois.refresh_aoi_status(conn, scene.aoi, is_retry=requested == Status.RETRY)
    return True


async def retry_scene(conn: Conn, scene_id: int) -> None:
    await aois.set_scene_status(conn, scene_id, Status.PENDING, countdown_delta=-1)
    await tasks.queue_download(conn, scene_id)


async def fail_scene(conn: Conn, scene_id: int, message: str | None) -> None:
    # FAILED tiles are already what failing the scene makes of its tiles (a failed scene retried by hand
    # still has them): the reference's refusal of those left the retried scene PENDING for ever (C34).
    tiles = [t for t in await aois.list_scene_tiles(conn, scene_id) if t.status != Status.FAILED]
    for tile in tiles:
        if tile.status != Status.NEW:
            raise FailedPrecondition(f"unconsistency: tile {tile.id} status {tile.status.value}")
    await aois.set_scene_status(conn, scene_id, Status.FAILED, message)
    for tile in tiles:
        await fail_tile(conn, tile.id, None)


async def give_up(conn: Conn, scene_id: int, tile_id: int | None, message: str) -> bool:
    """A worker's FAILED result for an item that cannot fail (a scene with a tile past NEW: a downloaded
    scene forced back to PENDING; a tile whose chain refuses it): the item ends RETRY with the message,
    nothing else touched, so that an operator sees it and its task is not handed out again."""
    scene = await aois.get_scene(conn, scene_id, lock=True)
    if scene is None:
        return False
    if tile_id is None:
        await aois.set_scene_status(conn, scene_id, Status.RETRY, message)
    else:
        await aois.set_tile_status(conn, tile_id, Status.RETRY, message)
    await aois.refresh_aoi_status(conn, scene.aoi, is_retry=True)
    return True


async def update_tile(conn: Conn, tile_id: int, requested: Status, message: str | None,
                      must_exist: bool = False) -> bool:
    """Non-forced tile transition; False when the current status refuses it."""
    if requested == Status.DONE:
        # The common case (a worker's DONE) is one server-side function, AOI lock included: see
        # schema/0003_*.sql.
        finished = await aois.finish_tile(conn, tile_id)
        if finished is None and must_exist:
            raise NotFound(f"tile {tile_id} not found")
        return bool(finished)
    await aois.lock_aoi_of_tile(conn, tile_id)  # first: transitions of an AOI are serialised
    tile = await aois.get_tile(conn, tile_id, lock=True)
    if tile is None and must_exist:
        raise NotFound(f"tile {tile_id} not found")
    if tile is None or tile.status == requested:
        return False
    current = tile.status
    if requested != Status.PENDING and current in (Status.PENDING, Status.RETRY):
        await graph.cancel_tile_task(conn, tile_id)
    if current == Status.PENDING and requested == Status.RETRY:
        if tile.retry_countdown > 0:
            await retry_tile(conn, tile_id)
            requested = Status.PENDING  # automatic retry: no AOI RETRY (see update_scene)
        else:
            await aois.set_tile_status(conn, tile_id, Status.RETRY, message)
    elif current == Status.RETRY and requested == Status.PENDING:
        if tile.scene.status != Status.DONE:
            raise FailedPrecondition(f"cannot retry tile with scene status {tile.scene.status.value}")
        await retry_tile(conn, tile_id)
    elif current in (Status.PENDING, Status.RETRY) and requested == Status.FAILED:
        await fail_tile(conn, tile_id, message)
    else:
        logger.warning("tile %s: refused transition %s -> %s", tile_id, current.value, requested.value)
        return False
    await aois.refresh_aoi_status(conn, tile.scene.aoi, is_retry=requested == Status.RETRY)
    return True


async def retry_tile(conn: Conn, tile_id: int) -> None:
    tile = await aois.get_tile(conn, tile_id, with_scene=False)
    assert tile is not None
    if tile.previous_id is not None:
        prev = await aois.get_tile(conn, tile.previous_id, with_scene=False)
        if prev is not None and prev.status != Status.DONE:
            raise FailedPrecondition(f"cannot retry tile when previous is {prev.status.value}")
    await aois.set_tile_status(conn, tile_id, Status.PENDING, countdown_delta=-1)
    await tasks.queue_process(conn, [tile_id])


async def fail_tile(conn: Conn, tile_id: int, message: str | None) -> None:
    """Fails a tile and heals the chain around it: its dependants inherit its previous tile; a failed
    root hands the root and reference roles to its first dependant."""
    tile = await aois.get_tile(conn, tile_id, with_scene=False)
    assert tile is not None
    prev_id = tile.previous_id
    prev_done = prev_id is None
    if prev_id is not None:
        prev = await aois.get_tile(conn, prev_id)
        assert prev is not None
        if prev.status == Status.FAILED:
            raise FailedPrecondition("previous tile is FAILED")
        if prev.scene.status == Status.FAILED:
            raise FailedPrecondition("previous scene is FAILED")
        prev_done = prev.status == Status.DONE
    await aois.set_tile_status(conn, tile_id, Status.FAILED, message)
    await aois.detach_tile(conn, tile_id)
    children = await aois.relink_children(conn, tile_id, prev_id)
    if tile.reference_id is None and children:
        await aois.replace_reference(conn, tile_id, children[0])
    if prev_done:
        for child_id in children:
            await tasks.queue_process(conn, await aois.release_if_ready(conn, child_id))


async def force_scene(conn: Conn, scene_id: int, requested: Status) -> None:
    """Forced scene transition (spec §5.6): the action of the requested status from any status. A live
    download task is cancelled unless the scene goes (back) to PENDING, so a worker still holding it
    cannot report over the forced status."""
    await aois.lock_aoi_of_scene(conn, scene_id)
    scene = await aois.get_scene(conn, scene_id, lock=True)
    if scene is None:
        raise NotFound(f"scene {scene_id} not found")
    if requested != Status.PENDING:
        await graph.cancel_scene_task(conn, scene_id)
    if requested == Status.DONE:
        await aois.finish_scene(conn, scene_id, force=True)
    elif requested == Status.PENDING:
        await retry_scene(conn, scene_id)
    elif requested == Status.FAILED:
        await fail_scene(conn, scene_id, None)
    else:
        await aois.set_scene_status(conn, scene_id, requested)
    await aois.refresh_aoi_status(conn, scene.aoi, is_retry=requested == Status.RETRY)


async def force_tile(conn: Conn, tile_id: int, requested: Status) -> None:
    """Forced tile transition (spec §5.7); no scene-status check on PENDING, as the reference."""
    await aois.lock_aoi_of_tile(conn, tile_id)
    tile = await aois.get_tile(conn, tile_id, lock=True)
    if tile is None:
        raise NotFound(f"tile {tile_id} not found")
    if requested != Status.PENDING:
        await graph.cancel_tile_task(conn, tile_id)
    if requested == Status.DONE:
        await aois.finish_tile(conn, tile_id, force=True)
    elif requested == Status.PENDING:
        await retry_tile(conn, tile_id)
    elif requested == Status.FAILED:
        await fail_tile(conn, tile_id, None)
    else:
        await aois.set_tile_status(conn, tile_id, requested)
    await aois.refresh_aoi_status(conn, tile.scene.aoi, is_retry=requested == Status.RETRY)
