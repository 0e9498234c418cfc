-- dwh:object procedure setup.publish(bigint, text[])
CREATE OR REPLACE PROCEDURE setup.publish(p_run bigint, p_layers text[])
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_step bigint;
    v_count integer;
    v_error text;
    v_detail text;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    v_step := setup.step_begin(p_run, 'all', 'publish', array_to_string(p_layers, ', '));
    COMMIT;
    -- One short transaction: every staged table of every layer goes in, the
    -- step and the run end, all or nothing (setup.publish_tables; as dwh_owner,
    -- which owns the published tables, for a caller without its privileges).
    BEGIN
        PERFORM setup.join_run(p_run);  -- only while the run holds the warehouse lock
        IF pg_catalog.pg_has_role('dwh_owner', 'USAGE') THEN
            v_count := setup.publish_tables(p_run, p_layers);
        ELSE
            v_count := setup.publish_tables_as_owner(p_run, p_layers);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
    END;
    IF v_error IS NOT NULL THEN
        -- The detail (the queries of the sessions in the way) goes with the error,
        -- not into the history (setup.fail_run).
        PERFORM pg_catalog.set_config('dwh.failure_detail', coalesce(v_detail, ''), false);
        CALL setup.fail_run(p_run, v_step, v_error);
    END IF;
    PERFORM setup.step_end(v_step, 'succeeded', v_count, NULL);
    UPDATE setup.etl_runs SET status = 'succeeded', finished_at = clock_timestamp()
     WHERE run_id = p_run;
    COMMIT;
END;
$$;

COMMENT ON PROCEDURE setup.publish(bigint, text[]) IS
    'Put every staged table of the given layers in, in one transaction (setup.publish_tables), '
    'and end the run. Rows of the step: tables published.';
