-- dwh:object procedure setup.run_check(bigint, text)
CREATE OR REPLACE PROCEDURE setup.run_check(p_run bigint, p_check text)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_check record;
    v_step bigint;
    v_count bigint;
    v_error text;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    -- One quality check, recorded as a step of the run (committed): succeeded,
    -- warning (rows found, severity warning) or failed (rows found, severity
    -- error, or the check itself failed).  setup.conclude_checks decides the run.
    SELECT * INTO v_check FROM setup.quality_checks WHERE check_name = p_check;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no quality check %', p_check;
    END IF;
    v_step := setup.step_begin(p_run, v_check.layer, 'check', v_check.check_name);
    COMMIT;
    BEGIN
        PERFORM setup.join_run(p_run);  -- only while the run holds the warehouse lock
        IF pg_catalog.pg_has_role('dwh_owner', 'USAGE') THEN
            v_count := setup.count_violations(p_run, p_check);
        ELSE
            v_count := setup.count_violations_as_owner(p_run, p_check);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        v_error := SQLERRM;
    END;
    IF v_error IS NOT NULL THEN
        PERFORM setup.step_end(v_step, 'failed', NULL, 'the check itself failed: ' || v_error);
    ELSIF v_count = 0 THEN
        PERFORM setup.step_end(v_step, 'succeeded', 0, NULL);
    ELSIF v_check.severity = 'warning' THEN
        PERFORM setup.step_end(v_step, 'warning', v_count, v_check.description);
    ELSE
        PERFORM setup.step_end(v_step, 'failed', v_count, v_check.description);
    END IF;
    COMMIT;
END;
$$;

COMMENT ON PROCEDURE setup.run_check(bigint, text) IS
    'Run one quality check on the data the run sees and record it as a step.';
