-- dwh:object procedure setup.run_quality_checks(bigint, text[])
CREATE OR REPLACE PROCEDURE setup.run_quality_checks(p_run bigint, p_layers text[])
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_check record;
BEGIN
    -- Every check runs (so one run reports every problem), each recorded as a
    -- step by setup.run_check (dwh runs them at once on several connections);
    -- then a failed error-severity check fails the run.
    FOR v_check IN SELECT q.check_name FROM setup.quality_checks q
                    WHERE q.enabled AND q.layer = ANY (p_layers)
                    ORDER BY array_position(ARRAY['bronze', 'silver', 'gold'], q.layer), q.check_name LOOP
        CALL setup.run_check(p_run, v_check.check_name);
    END LOOP;
    CALL setup.conclude_checks(p_run);
END;
$$;

COMMENT ON PROCEDURE setup.run_quality_checks(bigint, text[]) IS
    'Run the enabled checks of setup.quality_checks for the given layers on the data the run '
    'sees; a failed error check fails the run, warnings are recorded.';
