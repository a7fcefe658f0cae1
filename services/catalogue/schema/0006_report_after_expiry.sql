-- A DONE report under an expired lease is refused like any report (docs/compatibility.md C33): the same
-- function as 0004 with the expiry in the lease check. NULL tells the caller to find out why and to take
-- the expired lease back (services/catalogue/tasks/queue.py).
CREATE OR REPLACE FUNCTION geocube_report_done(p_task bigint, p_token uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_scene integer;
    v_tile integer;
BEGIN
    PERFORM 1 FROM aoi a JOIN scene s ON s.aoi_id = a.id JOIN task k ON k.scene_id = s.id
    WHERE k.id = p_task FOR NO KEY UPDATE OF a;
    SELECT scene_id, tile_id INTO v_scene, v_tile FROM task
    WHERE id = p_task AND lease_token = p_token AND state = 'leased' AND lease_expires >= now() FOR UPDATE;
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
