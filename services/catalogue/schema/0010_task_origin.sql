-- The origin of each task: the W3C traceparent and the request id of the call that created it
-- (docs/observability.md). The worker that leases the task receives both (Task.traceparent,
-- Task.request_id), so its spans join the ingestion's trace and its log lines carry the request id.
--
-- Tasks are created by the Python store and by SQL functions (a DONE scene releasing its tiles, a DONE
-- tile its dependants). The store writes the columns itself; for the functions, the caller sets the
-- transaction-local settings geocube.traceparent / geocube.request_id, which the defaults read. A task
-- created with neither gets '' (untraced), never an error: current_setting(..., true) is NULL when unset.
-- The defaults are stable expressions: adding the columns does not rewrite the table.

ALTER TABLE task
    ADD COLUMN traceparent text NOT NULL DEFAULT coalesce(current_setting('geocube.traceparent', true), ''),
    ADD COLUMN request_id text NOT NULL DEFAULT coalesce(current_setting('geocube.request_id', true), '');

-- geocube_report_done (0004) with the reporting call's origin, for the tasks its FinishScene/FinishTile
-- create. Still one statement in its own transaction: set_config(..., true) lasts until its end.
CREATE FUNCTION geocube_report_done_traced(p_task bigint, p_token uuid, p_traceparent text, p_request_id text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('geocube.traceparent', p_traceparent, true);
    PERFORM set_config('geocube.request_id', p_request_id, true);
    RETURN geocube_report_done(p_task, p_token);
END;
$$;
