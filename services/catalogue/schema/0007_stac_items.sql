-- STAC Items of the indexed datasets (docs/stac.md): one row per processed tile, the item as built by the
-- processor plus the columns the STAC API filters on. PostgreSQL's own `box` type with a GiST index makes
-- bbox intersection (&&) an index scan without PostGIS, which the embedded server does not ship.
CREATE TABLE stac_item (
    collection text NOT NULL,                 -- the AOI
    id text NOT NULL,
    record_id uuid REFERENCES record(id) ON DELETE CASCADE,
    datetime timestamptz NOT NULL,
    bbox box,                                 -- EPSG:4326 (west, south), (east, north); NULL: no geometry
    item jsonb NOT NULL,
    catalog_root text NOT NULL DEFAULT '',    -- storage URI of the static catalog listing it
    catalog_key text NOT NULL DEFAULT '',     -- its file below catalog_root
    updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, id)
);
CREATE INDEX stac_item_bbox_idx ON stac_item USING gist (bbox);
-- The search order (and keyset paging) of the STAC API.
CREATE INDEX stac_item_order_idx ON stac_item (datetime, collection, id);
CREATE INDEX stac_item_root_idx ON stac_item (catalog_root, collection);

-- One revision per static catalog, bumped in the transaction that changes its items: the writers of the
-- static files compare it before and after writing (docs/stac.md, "concurrent processors").
CREATE TABLE stac_catalog (
    root text PRIMARY KEY,
    revision bigint NOT NULL DEFAULT 0
);
