-- Per-AOI counts of scenes by status, and of the tiles of DONE scenes by status: the AOI status (spec
-- §5.8) is then read from at most ten small rows instead of probed in the scene and tile tables.
--
-- Why: the probe "is there a PENDING tile of a DONE scene of this AOI?" walks the AOI's scenes until it
-- meets one with such a tile; as tiles finish in order the walk grows, so every transition cost
-- O(scenes of the AOI) — 322 transitions/s at 10 000 tiles against 2 455/s for a raw UPDATE (benchmarks
-- /workflow.py). Counts kept by statement-level triggers (one aggregate per statement, transition tables)
-- are maintained by every writer, SQL functions and Python store alike, so no code path can forget them.
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
CREATE FUNCTION geocube_count_add(p_aoi text[], p_kind text[], p_status text[], p_delta integer[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO aoi_status_count AS c (aoi_id, kind, status, n)
    SELECT aoi_id, kind, status, sum(delta)
    FROM unnest(p_aoi, p_kind, p_status, p_delta) AS d(aoi_id, kind, status, delta)
    GROUP BY aoi_id, kind, status
    HAVING sum(delta) <> 0
    ORDER BY aoi_id, kind, status
    ON CONFLICT (aoi_id, kind, status) DO UPDATE SET n = c.n + excluded.n;
$$;

CREATE FUNCTION geocube_count_scene_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM geocube_count_add(array_agg(aoi_id), array_agg('scene'::text), array_agg(status), array_agg(1))
    FROM new_rows;
    RETURN NULL;
END;
$$;

-- A scene changing status moves one scene count; entering or leaving DONE also adds or removes its
-- tiles from the tile counts (only tiles of DONE scenes count towards the AOI status).
CREATE FUNCTION geocube_count_scene_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM geocube_count_add(array_agg(aoi_id), array_agg(kind), array_agg(status), array_agg(delta))
    FROM (
        SELECT o.aoi_id, 'scene'::text AS kind, o.status, -1 AS delta
        FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
        UNION ALL
        SELECT n.aoi_id, 'scene', n.status, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
        UNION ALL
        SELECT n.aoi_id, 'tile', t.status, CASE WHEN n.status = 'DONE' THEN 1 ELSE -1 END
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN tile t ON t.scene_id = n.id
        WHERE (n.status = 'DONE') <> (o.status = 'DONE')
    ) AS d;
    RETURN NULL;
END;
$$;

CREATE FUNCTION geocube_count_tile_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM geocube_count_add(array_agg(s.aoi_id), array_agg('tile'::text), array_agg(n.status), array_agg(1))
    FROM new_rows n JOIN scene s ON s.id = n.scene_id
    WHERE s.status = 'DONE';
    RETURN NULL;
END;
$$;

CREATE FUNCTION geocube_count_tile_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM geocube_count_add(array_agg(aoi_id), array_agg('tile'::text), array_agg(status), array_agg(delta))
    FROM (
        SELECT s.aoi_id, o.status, -1 AS delta
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN scene s ON s.id = o.scene_id
        WHERE n.status <> o.status AND s.status = 'DONE'
        UNION ALL
        SELECT s.aoi_id, n.status, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN scene s ON s.id = n.scene_id
        WHERE n.status <> o.status AND s.status = 'DONE'
    ) AS d;
    RETURN NULL;
END;
$$;

CREATE TRIGGER scene_count_insert AFTER INSERT ON scene
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geocube_count_scene_insert();
CREATE TRIGGER scene_count_update AFTER UPDATE ON scene
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION geocube_count_scene_update();
CREATE TRIGGER tile_count_insert AFTER INSERT ON tile
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geocube_count_tile_insert();
CREATE TRIGGER tile_count_update AFTER UPDATE ON tile
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION geocube_count_tile_update();

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
