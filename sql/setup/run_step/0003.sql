-- dwh:object procedure setup.run_step(bigint, text, text, text, text)
CREATE OR REPLACE PROCEDURE setup.run_step(p_run bigint, p_layer text, p_kind text,
                                           p_target text, p_sql text)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_step bigint;
    v_rows bigint;
    v_error text;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    -- The step is recorded (and committed) before it runs, so other sessions
    -- see the run progress; its work commits with its end.  A caller without
    -- dwh_owner's privileges (a dwh_loader login) has it run as dwh_owner, which
    -- owns what the steps rebuild (only the run's own statements).
    v_step := setup.step_begin(p_run, p_layer, p_kind, p_target);
    COMMIT;
    BEGIN
        PERFORM setup.join_run(p_run);  -- only while the run holds the warehouse lock
        IF pg_catalog.pg_has_role('dwh_owner', 'USAGE') THEN
            EXECUTE p_sql INTO v_rows;
        ELSE
            v_rows := setup.run_step_as_owner(p_run, p_target, p_sql);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        v_error := SQLERRM;
    END;
    IF v_error IS NOT NULL THEN
        CALL setup.fail_run(p_run, v_step, v_error);
    END IF;
    PERFORM setup.step_end(v_step, 'succeeded', v_rows, NULL);
    COMMIT;
END;
$$;

COMMENT ON PROCEDURE setup.run_step(bigint, text, text, text, text) IS
    'Run one step (a query returning its row count), recorded in setup.etl_run_steps; '
    'a failure fails the run. Needs an autocommit session (it commits).';
