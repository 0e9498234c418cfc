-- dwh:object procedure setup.conclude_checks(bigint)
CREATE OR REPLACE PROCEDURE setup.conclude_checks(p_run bigint)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_first bigint;
    v_failed text;
BEGIN
    -- A failed check (error severity, or a check that could not run) fails the
    -- run at the first of them; the message lists them all.
    SELECT min(s.step_id),
           string_agg(CASE WHEN s.rows IS NULL THEN format('%s (%s)', s.target, s.message)
                           ELSE format('%s (%s rows: %s)', s.target, s.rows, s.message) END,
                      '; ' ORDER BY s.step_id)
      INTO v_first, v_failed
      FROM setup.etl_run_steps s
     WHERE s.run_id = p_run AND s.kind = 'check' AND s.status = 'failed';
    IF v_failed IS NOT NULL THEN
        CALL setup.fail_run(p_run, v_first, 'quality checks failed: ' || v_failed);
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.conclude_checks(bigint) IS
    'Fail the run when any of its quality checks failed.';
