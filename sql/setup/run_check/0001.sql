-- dwh:object procedure setup.run_check(bigint, text)
CREATE OR REPLACE PROCEDURE setup.run_check(p_run bigint, p_check text)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_check record;
    v_step bigint;
    v_sql text;
    v_count bigint;
    v_error text;
BEGIN
    -- One quality check, recorded as a step of the run (committed): succeeded,
    -- warning (rows found, severity warning) or failed (rows found, severity
    -- error, or the check itself failed).  setup.conclude_checks decides the run.
    SELECT * INTO v_check FROM setup.quality_checks WHERE check_name = p_check;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no quality check %', p_check;
    END IF;
    v_step := setup.step_begin(p_run, v_check.layer, 'check', v_check.check_name);
    COMMIT;
    PERFORM setup.tune_step();
    v_sql := replace(replace(replace(v_check.query,
                 '{bronze}', quote_ident(setup.layer_schema(p_run, 'bronze'))),
                 '{silver}', quote_ident(setup.layer_schema(p_run, 'silver'))),
                 '{gold}', quote_ident(setup.layer_schema(p_run, 'gold')));
    BEGIN
        EXECUTE format('SELECT count(*) FROM (%s) AS violations', v_sql) INTO v_count;
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
