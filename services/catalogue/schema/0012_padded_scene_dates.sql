-- Scene dates written before the zero-time fix (services/catalogue/store/codec.py) have years below 1000
-- unpadded: an undated scene holds `1-01-01T00:00:00Z`. Python reads both forms, but PostgreSQL reads
-- `1-01-01` as 2001-01-01, so the AOI report's first date (store/graph.py, a ::timestamptz over the
-- JSON text) said 2001 for such scenes. Rewritten once, in the form the store writes now.
UPDATE scene
SET data = jsonb_set(
    data,
    '{date}',
    to_jsonb(
        lpad(substring(data->>'date' FROM '^([0-9]{1,3})-'), 4, '0')
        || substring(data->>'date' FROM '^[0-9]{1,3}(-.*)$')
    )
)
WHERE data->>'date' ~ '^[0-9]{1,3}-';
