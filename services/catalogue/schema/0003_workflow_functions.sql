-- The hottest workflow paths as server-side functions: one round trip instead of seven. Worker results
-- DONE are most of all transitions; the AOI status refresh runs after every transition.

-- Spec §5.8: RETRY > PENDING > NEW > DONE > FAILED over the scenes, then over the tiles of DONE scenes
-- (NEW when there are none). Written, and notified on channel geocube_aoi, only when it changes.
CREATE FUNCTION geocube_refresh_aoi_status(p_aoi text, p_is_retry boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_candidate text;
BEGIN
    IF p_is_retry THEN
        v_status := 'RETRY';
    ELSE
        v_status := 'NEW';
        FOREACH v_candidate IN ARRAY ARRAY['RETRY', 'PENDING', 'NEW', 'DONE', 'FAILED'] LOOP
            IF EXISTS (SELECT 1 FROM scene WHERE aoi_id = p_aoi AND status = v_candidate) THEN
                v_status := v_candidate;
                EXIT;
            END IF;
        END LOOP;
        IF v_status = 'DONE' THEN
            v_status := 'NEW';
            FOREACH v_candidate IN ARRAY ARRAY['RETRY', 'PENDING', 'NEW', 'DONE', 'FAILED'] LOOP
                IF EXISTS (SELECT 1 FROM tile t JOIN scene s ON s.id = t.scene_id
                           WHERE t.status = v_candidate AND s.aoi_id = p_aoi AND s.status = 'DONE') THEN
                    v_status := v_candidate;
                    EXIT;
                END IF;
            END LOOP;
        END IF;
    END IF;
    UPDATE aoi SET status = v_status WHERE id = p_aoi AND status <> v_status;
    IF FOUND THEN
        PERFORM pg_notify('geocube_aoi', p_aoi);  -- workflow.AOI_CHANNEL
    END IF;
    RETURN v_status;
END;
$$;

-- FinishTile (spec §5.7): PENDING/RETRY -> DONE, cancel the tile's live task, release the NEW dependants
-- whose scene is downloaded (PENDING + a process task, workers notified), refresh the AOI status.
-- Returns NULL for an unknown tile, false when its status refuses DONE (forced: any status is accepted).
CREATE FUNCTION geocube_finish_tile(p_tile integer, p_force boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_aoi text;
    v_released integer;
BEGIN
    -- The AOI row first: transitions of one AOI are serialised, always locking AOI -> rows (see
    -- store/workflow.py lock_aoi), so a download and a previous tile finishing together both see the other.
    PERFORM 1 FROM aoi a JOIN scene s ON s.aoi_id = a.id JOIN tile t ON t.scene_id = s.id
    WHERE t.id = p_tile FOR NO KEY UPDATE OF a;
    SELECT t.status, s.aoi_id INTO v_status, v_aoi
    FROM tile t JOIN scene s ON s.id = t.scene_id WHERE t.id = p_tile FOR UPDATE OF t;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT p_force AND v_status NOT IN ('PENDING', 'RETRY') THEN
        RETURN false;
    END IF;
    DELETE FROM task WHERE kind = 'process' AND tile_id = p_tile;
    UPDATE tile SET status = 'DONE' WHERE id = p_tile;
    WITH released AS (
        UPDATE tile t SET status = 'PENDING' FROM scene s
        WHERE t.prev = p_tile AND t.status = 'NEW' AND s.id = t.scene_id AND s.status = 'DONE'
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
