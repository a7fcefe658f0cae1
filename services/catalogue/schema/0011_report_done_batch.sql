-- Group commit of DONE reports (services/catalogue/tasks/group_commit.py): the reports that reach the
-- catalogue while the previous batch commits are applied by one statement, in one transaction, so they
-- share one COMMIT, i.e. one WAL flush. The per-AOI lock is held until the commit is durable, so with one
-- report per transaction the reports of an AOI waited for each other's WAL flush one after the other: on
-- an fsync-bound machine that was the ceiling (docs/benchmarks.md). Durability is unchanged:
-- synchronous_commit stays on and no caller is answered before the shared commit returns.
--
-- Item i is geocube_report_done_traced(p_tasks[i], p_tokens[i], p_traceparents[i], p_request_ids[i]);
-- result i is 1 (applied), 0 (the workflow refused the transition) or NULL (lease not held or expired:
-- the caller finds out why, as for a single report), or 2 when p_workers[i] is not '' and the lease is
-- held by another worker than p_workers[i]: nothing is recorded (a report that also claims the next
-- task must come from the holder, tasks_servicer.py; checked here, it costs no round trip of its own). An error in any item rolls back the whole batch
-- (no per-item savepoint: more than 64 subtransactions would overflow every session's snapshot cache);
-- the caller then reports the items one by one, so each gets its own answer or error.
CREATE FUNCTION geocube_report_done_batch(
    p_tasks bigint[], p_tokens uuid[], p_traceparents text[], p_request_ids text[], p_workers text[]
) RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
    v_results integer[] := '{}';
    v_applied boolean;
    v_holder text;
BEGIN
    -- Every AOI of the batch locked first, in one order: two batches (two replicas) holding tasks of the
    -- same AOIs wait for each other instead of deadlocking. Per item the AOI lock is then already held.
    PERFORM 1 FROM aoi a
    WHERE a.id IN (SELECT s.aoi_id FROM task k JOIN scene s ON s.id = k.scene_id WHERE k.id = ANY(p_tasks))
    ORDER BY a.id FOR NO KEY UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_tasks, 1), 0) LOOP
        IF p_workers[i] <> '' THEN
            SELECT coalesce(worker_id, '') INTO v_holder FROM task
            WHERE id = p_tasks[i] AND lease_token = p_tokens[i] AND state = 'leased';
            IF FOUND AND v_holder <> p_workers[i] THEN
                v_results := array_append(v_results, 2);
                CONTINUE;
            END IF;
        END IF;
        v_applied := geocube_report_done_traced(p_tasks[i], p_tokens[i], p_traceparents[i], p_request_ids[i]);
        v_results := array_append(v_results, CASE WHEN v_applied THEN 1 WHEN NOT v_applied THEN 0 END);
    END LOOP;
    RETURN v_results;
END;
$$;
