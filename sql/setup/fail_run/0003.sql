-- dwh:object procedure setup.fail_run(bigint, bigint, text)
CREATE OR REPLACE PROCEDURE setup.fail_run(p_run bigint, p_step bigint, p_message text)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_where text;
    v_message text;
    -- what the caller wants said but not recorded (setup.publish: queries of others)
    v_detail text := nullif(pg_catalog.current_setting('dwh.failure_detail', true), '');
BEGIN
    PERFORM pg_catalog.set_config('dwh.failure_detail', '', false);
    -- The step fails with its own message; the run with its first failure (a step
    -- that fails after it, beside it or because of it does not replace it).  A run
    -- taken for abandoned (its session ended) gets the step that found out.
    -- The run's row first, then the step's: the order setup.begin_run takes them in
    -- when it marks the run abandoned, so the two never deadlock.
    SELECT format('%s %s %s', layer, kind, target) INTO v_where
      FROM setup.etl_run_steps WHERE step_id = p_step;
    UPDATE setup.etl_runs
       SET status = 'failed', finished_at = clock_timestamp(),
           failed_step = v_where, message = p_message
     WHERE run_id = p_run AND status IN ('running', 'abandoned');
    IF p_step IS NOT NULL THEN
        PERFORM setup.step_end(p_step, 'failed', NULL, p_message);
    END IF;
    SELECT coalesce(r.failed_step, v_where), coalesce(r.message, p_message)
      INTO v_where, v_message
      FROM setup.etl_runs r WHERE r.run_id = p_run;
    COMMIT;
    PERFORM setup.release_lock();
    IF v_detail IS NOT NULL THEN
        RAISE EXCEPTION 'dwh run % failed at %: %', p_run, coalesce(v_where, 'start'),
            coalesce(v_message, p_message)
            USING DETAIL = v_detail,
                  HINT = format('every step of the run is in setup.etl_run_steps (dwh runs %s); '
                                'the warehouse is as the last successful run left it', p_run);
    END IF;
    RAISE EXCEPTION 'dwh run % failed at %: %', p_run, coalesce(v_where, 'start'),
        coalesce(v_message, p_message)
        USING HINT = format('every step of the run is in setup.etl_run_steps (dwh runs %s); '
                            'the warehouse is as the last successful run left it', p_run);
END;
$$;

COMMENT ON PROCEDURE setup.fail_run(bigint, bigint, text) IS
    'Record a failed step and (if it is the first failure) its run, committed; release the '
    'lock; raise an error naming the run''s failed step.';
