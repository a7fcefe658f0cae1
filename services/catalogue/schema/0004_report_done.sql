-- A worker's DONE report in one round trip. Held across ten statements sent one by one from Python, the
-- per-AOI lock serialised every report of an AOI behind the event loop (docs/benchmarks.md); in one
-- function it is held for the SQL only.

-- FinishScene (spec §5.6): PENDING/RETRY -> DONE, cancel the scene's live download task, release its NEW
-- tiles that are roots or whose previous tile is DONE (PENDING + a process task, workers notified),
-- refresh the AOI status. The caller holds the AOI lock. NULL for an unknown scene, false if refused
-- (forced: any status is accepted).
CREATE FUNCTION geocube_finish_scene(p_scene integer, p_force boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_aoi text;
    v_released integer;
BEGIN
    SELECT status, aoi_id INTO v_status, v_aoi FROM scene WHERE id = p_scene FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT p_force AND v_status NOT IN ('PENDING', 'RETRY') THEN
        RETURN false;
    END IF;
    DELETE FROM task WHERE kind = 'download' AND scene_id = p_scene;
    UPDATE scene SET status = 'DONE' WHERE id = p_scene;
    WITH released AS (
        UPDATE tile t SET status = 'PENDING'
        WHERE t.scene_id = p_scene AND t.status = 'NEW'
          AND (t.prev IS NULL OR EXISTS (SELECT 1 FROM tile p WHERE p.id = t.prev AND p.status = 'DONE'))
        RETURNING t.id, t.scene_id
    )
    INSERT INTO task (kind, scene_id, tile_id)
    SELECT 'process', scene_id, id FROM released ORDER BY id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_released = ROW_COUNT;
    IF v_released > 0 THEN
        PERFORM pg_notify('geocube_task', 'process');  -- tasks.CHANNEL
    END IF;
    PERFORM geocube_refresh_aoi_status(v_aoi, false);
    RETURN true;
END;
$$;

-- DONE reported under lease `p_token` of task `p_task`: AOI lock, lease check, task deletion, then
-- FinishScene or FinishTile. NULL when the lease is no longer held (nothing changes).
CREATE FUNCTION geocube_report_done(p_task bigint, p_token uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_scene integer;
    v_tile integer;
BEGIN
    PERFORM 1 FROM aoi a JOIN scene s ON s.aoi_id = a.id JOIN task k ON k.scene_id = s.id
    WHERE k.id = p_task FOR NO KEY UPDATE OF a;
    SELECT scene_id, tile_id INTO v_scene, v_tile FROM task
    WHERE id = p_task AND lease_token = p_token AND state = 'leased' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM task WHERE id = p_task;
    IF v_tile IS NULL THEN
        RETURN COALESCE(geocube_finish_scene(v_scene, false), false);
    END IF;
    RETURN COALESCE(geocube_finish_tile(v_tile, false), false);
END;
$$;
