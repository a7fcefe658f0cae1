-- Per-AOI counts of scenes by status, and of the tiles of DONE scenes by status: the AOI status (spec
-- §5.8) is then read from at most ten small rows instead of probed in the scene and tile tables.
--
-- Why: the probe "is there a PENDING tile of a DONE scene of this AOI?" walks the AOI's scenes until it
-- meets one with such a tile; as tiles finish in order the walk grows, so every transition cost
-- O(scenes of the AOI) — 322 transitions/s at 10 000 tiles against 2 455/s for a raw UPDATE (benchmarks
-- /workflow.py). Counts kept by triggers are maintained by every writer, SQL functions and Python store
-- alike, so no code path can forget them.
--
-- The triggers read a tile's scene status without locking it: they rely on the rule every workflow
-- writer follows (store/workflow.py lock_aoi), that status changes of an AOI happen under its row lock,
-- so a tile and its scene never change status in two transactions at once. Locking the scene here
-- instead (FOR SHARE) would deadlock a writer that broke the rule rather than keep the counts right.
--
-- Deleting scenes or tiles is not counted: they only disappear with their AOI, whose counts go with it
-- (ON DELETE CASCADE). A future partial delete must add DELETE triggers.

CREATE TABLE aoi_status_count (
    aoi_id text NOT NULL REFERENCES aoi(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('scene', 'tile')),
    status text NOT NULL,
    n integer NOT NULL,  -- no CHECK (n >= 0): an upserted negative delta would fail it before the merge
    PRIMARY KEY (aoi_id, kind, status)
);

-- Applies signed deltas. Rows are upserted in key order, so two transactions touching the same counts
-- lock them in the same order (transitions of one AOI are serialised by its row lock anyway).
-- plpgsql, not sql: a plpgsql function keeps its plan for the session, a non-inlined sql function is
-- planned again on every call (FinishTile: 1 600/s with sql, 2 100/s with plpgsql, 10 000 tiles).
CREATE FUNCTION geocube_count_add(p_aoi text[], p_kind text[], p_status text[], p_delta integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO aoi_status_count AS c (aoi_id, kind, status, n)
    SELECT aoi_id, kind, status, sum(delta)
    FROM unnest(p_aoi, p_kind, p_status, p_delta) AS d(aoi_id, kind, status, delta)
    GROUP BY aoi_id, kind, status
    HAVING sum(delta) <> 0
    ORDER BY aoi_id, kind, status
    ON CONFLICT (aoi_id, kind, status) DO UPDATE SET n = c.n + excluded.n;
END;
$$;

-- Row-level triggers, fired only when the status changes (the WHEN clause is checked without calling
-- the function): a single-row transition, by far the most common write, pays two index lookups and one
-- upsert. Statement-level triggers with transition tables cost more for one row, and fire even when an
-- UPDATE touches no row (FinishTile: 1 300/s with them, 1 600/s with these).
CREATE FUNCTION geocube_count_scene() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM geocube_count_add(ARRAY[NEW.aoi_id], ARRAY['scene'], ARRAY[NEW.status], ARRAY[1]);
        RETURN NULL;
    END IF;
    PERFORM geocube_count_add(ARRAY[NEW.aoi_id, NEW.aoi_id], ARRAY['scene', 'scene'],
                              ARRAY[OLD.status, NEW.status], ARRAY[-1, 1]);
    -- Entering or leaving DONE adds or removes the scene's tiles from the tile counts (only tiles of
    -- DONE scenes count towards the AOI status).
    IF (NEW.status = 'DONE') <> (OLD.status = 'DONE') THEN
        PERFORM geocube_count_add(array_agg(NEW.aoi_id), array_agg('tile'::text), array_agg(t.status),
                                  array_agg(CASE WHEN NEW.status = 'DONE' THEN 1 ELSE -1 END))
        FROM tile t WHERE t.scene_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION geocube_count_tile() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_aoi text;
BEGIN
    SELECT aoi_id INTO v_aoi FROM scene WHERE id = NEW.scene_id AND status = 'DONE';
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM geocube_count_add(ARRAY[v_aoi], ARRAY['tile'], ARRAY[NEW.status], ARRAY[1]);
    ELSE
        PERFORM geocube_count_add(ARRAY[v_aoi, v_aoi], ARRAY['tile', 'tile'],
                                  ARRAY[OLD.status, NEW.status], ARRAY[-1, 1]);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER scene_count_insert AFTER INSERT ON scene
    FOR EACH ROW EXECUTE FUNCTION geocube_count_scene();
CREATE TRIGGER scene_count_update AFTER UPDATE OF status ON scene
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION geocube_count_scene();
CREATE TRIGGER tile_count_insert AFTER INSERT ON tile
    FOR EACH ROW EXECUTE FUNCTION geocube_count_tile();
CREATE TRIGGER tile_count_update AFTER UPDATE OF status ON tile
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION geocube_count_tile();

-- Counts of the AOIs already there.
INSERT INTO aoi_status_count (aoi_id, kind, status, n)
SELECT aoi_id, 'scene', status, count(*) FROM scene GROUP BY aoi_id, status;
INSERT INTO aoi_status_count (aoi_id, kind, status, n)
SELECT s.aoi_id, 'tile', t.status, count(*)
FROM tile t JOIN scene s ON s.id = t.scene_id WHERE s.status = 'DONE' GROUP BY s.aoi_id, t.status;

-- Spec §5.8, unchanged: RETRY > PENDING > NEW > DONE > FAILED over the scenes, then over the tiles of
-- DONE scenes (NEW when there are none); now read from the counts.
CREATE OR REPLACE FUNCTION geocube_refresh_aoi_status(p_aoi text, p_is_retry boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    c_order CONSTANT text[] := ARRAY['RETRY', 'PENDING', 'NEW', 'DONE', 'FAILED'];
BEGIN
    IF p_is_retry THEN
        v_status := 'RETRY';
    ELSE
        SELECT status INTO v_status FROM aoi_status_count
        WHERE aoi_id = p_aoi AND kind = 'scene' AND n > 0
        ORDER BY array_position(c_order, status) LIMIT 1;
        IF v_status IS NULL THEN
            v_status := 'NEW';
        ELSIF v_status = 'DONE' THEN
            SELECT status INTO v_status FROM aoi_status_count
            WHERE aoi_id = p_aoi AND kind = 'tile' AND n > 0
            ORDER BY array_position(c_order, status) LIMIT 1;
            v_status := COALESCE(v_status, 'NEW');
        END IF;
    END IF;
    UPDATE aoi SET status = v_status WHERE id = p_aoi AND status <> v_status;
    IF FOUND THEN
        PERFORM pg_notify('geocube_aoi', p_aoi);  -- workflow.AOI_CHANNEL
    END IF;
    RETURN v_status;
END;
$$;
