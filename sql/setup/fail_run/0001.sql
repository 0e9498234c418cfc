-- dwh:object procedure setup.fail_run(bigint, bigint, text)
CREATE OR REPLACE PROCEDURE setup.fail_run(p_run bigint, p_step bigint, p_message text)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_where text;
BEGIN
    IF p_step IS NOT NULL THEN
        PERFORM setup.step_end(p_step, 'failed', NULL, p_message);
        SELECT format('%s %s %s', layer, kind, target) INTO v_where
          FROM setup.etl_run_steps WHERE step_id = p_step;
    END IF;
    UPDATE setup.etl_runs
       SET status = 'failed', finished_at = clock_timestamp(),
           failed_step = v_where, message = p_message
     WHERE run_id = p_run;
    COMMIT;
    PERFORM setup.release_lock();
    RAISE EXCEPTION 'dwh run % failed at %: %', p_run, coalesce(v_where, 'start'), p_message
        USING HINT = format('every step of the run is in setup.etl_run_steps (dwh runs %s); '
                            'the warehouse is as the last successful run left it', p_run);
END;
$$;

COMMENT ON PROCEDURE setup.fail_run(bigint, bigint, text) IS
    'Record a failed step and run (committed), release the lock, raise an error naming the step.';
