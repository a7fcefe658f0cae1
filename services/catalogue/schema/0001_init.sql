-- Workflow tables: the reference's schema (spec §5.1) with the uniqueness it only enforced in memory,
-- plus the task queue workers lease from and the layer registry.

CREATE TABLE aoi (
    id text PRIMARY KEY,
    status text NOT NULL DEFAULT 'NEW'
);

CREATE TABLE scene (
    id serial PRIMARY KEY,
    aoi_id text NOT NULL REFERENCES aoi(id) ON DELETE CASCADE,
    status text NOT NULL,
    message text NOT NULL DEFAULT '',
    source_id text NOT NULL,
    data jsonb NOT NULL,
    retry_countdown int NOT NULL DEFAULT 0,
    -- The reference checks this under a process mutex; a constraint holds across replicas.
    UNIQUE (aoi_id, source_id)
);

CREATE TABLE tile (
    id serial PRIMARY KEY,
    scene_id int NOT NULL REFERENCES scene(id) ON DELETE CASCADE,
    status text NOT NULL,
    message text NOT NULL DEFAULT '',
    prev int REFERENCES tile(id) ON DELETE SET NULL,
    ref int REFERENCES tile(id) ON DELETE SET NULL,
    source_id text NOT NULL,
    data jsonb NOT NULL,
    retry_countdown int NOT NULL DEFAULT 0,
    UNIQUE (source_id, scene_id)
);
CREATE INDEX tile_scene_idx ON tile (scene_id);
CREATE INDEX tile_prev_idx ON tile (prev);
CREATE INDEX tile_ref_idx ON tile (ref);

-- One row per queued or leased unit of work. A task is deleted when its result is applied, in the same
-- transaction as the status change, so a crash either loses nothing or applies everything.
CREATE TABLE task (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('download', 'process')),
    scene_id int NOT NULL REFERENCES scene(id) ON DELETE CASCADE,
    tile_id int REFERENCES tile(id) ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased')),
    lease_token uuid,
    lease_expires timestamptz,
    worker_id text NOT NULL DEFAULT '',
    attempts int NOT NULL DEFAULT 0,
    progress text NOT NULL DEFAULT '',
    last_error text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'download') = (tile_id IS NULL))
);
-- At most one live task per scene download and per tile processing.
CREATE UNIQUE INDEX task_download_uq ON task (scene_id) WHERE kind = 'download';
CREATE UNIQUE INDEX task_process_uq ON task (tile_id) WHERE kind = 'process';
CREATE INDEX task_ready_idx ON task (kind, id) WHERE state = 'queued';
CREATE INDEX task_lease_idx ON task (kind, lease_expires) WHERE state = 'leased';

-- Layer registry (stands in for the Geocube server of the reference).
CREATE TABLE variable (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    unit text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    dtype text NOT NULL DEFAULT 'float32'
);

CREATE TABLE instance (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    variable_id uuid NOT NULL REFERENCES variable(id) ON DELETE CASCADE,
    name text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    UNIQUE (variable_id, name)
);

CREATE TABLE record (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    time timestamptz NOT NULL,
    tags jsonb NOT NULL DEFAULT '{}',
    aoi_wkt text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX record_name_idx ON record (name);

CREATE TABLE dataset (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    record_id uuid NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    instance_id uuid NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    uri text NOT NULL,
    subdir text NOT NULL DEFAULT '',
    bands int[] NOT NULL DEFAULT '{1}',
    dtype text NOT NULL,
    no_data double precision NOT NULL DEFAULT 0,
    min_value double precision NOT NULL DEFAULT 0,
    max_value double precision NOT NULL DEFAULT 0,
    real_min_value double precision NOT NULL DEFAULT 0,
    real_max_value double precision NOT NULL DEFAULT 0,
    exponent double precision NOT NULL DEFAULT 1,
    created timestamptz NOT NULL DEFAULT now(),
    -- Indexing is retried after crashes: the same file must never be indexed twice.
    UNIQUE (record_id, instance_id, uri)
);
