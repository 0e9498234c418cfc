-- dwh:object procedure setup.run_quality_checks(bigint, text[])
CREATE OR REPLACE PROCEDURE setup.run_quality_checks(p_run bigint, p_layers text[])
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_check record;
    v_step bigint;
    v_sql text;
    v_count bigint;
    v_error text;
    v_failed text[] := '{}';
    v_first_failed bigint;
BEGIN
    -- Every check runs (so one run reports every problem), each recorded as a
    -- step; then any failed error-severity check fails the run.
    FOR v_check IN SELECT q.* FROM setup.quality_checks q
                    WHERE q.enabled AND q.layer = ANY (p_layers)
                    ORDER BY array_position(ARRAY['bronze', 'silver', 'gold'], q.layer), q.check_name LOOP
        v_step := setup.step_begin(p_run, v_check.layer, 'check', v_check.check_name);
        COMMIT;
        PERFORM setup.tune_step();
        v_sql := replace(replace(replace(v_check.query,
                     '{bronze}', quote_ident(setup.layer_schema(p_run, 'bronze'))),
                     '{silver}', quote_ident(setup.layer_schema(p_run, 'silver'))),
                     '{gold}', quote_ident(setup.layer_schema(p_run, 'gold')));
        v_error := NULL;
        v_count := NULL;
        BEGIN
            EXECUTE format('SELECT count(*) FROM (%s) AS violations', v_sql) INTO v_count;
        EXCEPTION WHEN OTHERS THEN
            v_error := SQLERRM;
        END;
        IF v_error IS NOT NULL THEN
            PERFORM setup.step_end(v_step, 'failed', NULL, 'the check itself failed: ' || v_error);
            v_failed := v_failed || format('%s (the check failed: %s)', v_check.check_name, v_error);
            v_first_failed := coalesce(v_first_failed, v_step);
        ELSIF v_count = 0 THEN
            PERFORM setup.step_end(v_step, 'succeeded', 0, NULL);
        ELSIF v_check.severity = 'warning' THEN
            PERFORM setup.step_end(v_step, 'warning', v_count, v_check.description);
        ELSE
            PERFORM setup.step_end(v_step, 'failed', v_count, v_check.description);
            v_failed := v_failed || format('%s (%s rows: %s)', v_check.check_name, v_count,
                                           v_check.description);
            v_first_failed := coalesce(v_first_failed, v_step);
        END IF;
        COMMIT;
    END LOOP;
    IF cardinality(v_failed) > 0 THEN
        -- The run fails at the first failed check; the message lists them all.
        CALL setup.fail_run(p_run, v_first_failed,
                            'quality checks failed: ' || array_to_string(v_failed, '; '));
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.run_quality_checks(bigint, text[]) IS
    'Run the enabled checks of setup.quality_checks for the given layers on the data the run '
    'sees; a failed error check fails the run, warnings are recorded.';
