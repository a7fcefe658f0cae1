-- The AOI status is recomputed after every transition (spec §5.8) by probing "is there a scene / a tile of
-- a DONE scene with this status?" in priority order: these indexes make each probe a lookup instead of a
-- scan of the AOI, so a transition costs the same for an AOI of 10 or of 100 000 tiles.
CREATE INDEX scene_aoi_status_idx ON scene (aoi_id, status);
CREATE INDEX tile_status_scene_idx ON tile (status, scene_id);
