-- dwh:object function setup.count_violations(bigint, text)
CREATE OR REPLACE FUNCTION setup.count_violations(p_run bigint, p_check text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_query text;
    v_count bigint;
BEGIN
    -- The rows a quality check finds in the data the run sees: its query with
    -- {bronze}, {silver} and {gold} naming the staged or the published layer.
    SELECT q.query INTO v_query FROM setup.quality_checks q WHERE q.check_name = p_check;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no quality check %', p_check;
    END IF;
    PERFORM setup.tune_step();
    v_query := replace(replace(replace(v_query,
                   '{bronze}', quote_ident(setup.layer_schema(p_run, 'bronze'))),
                   '{silver}', quote_ident(setup.layer_schema(p_run, 'silver'))),
                   '{gold}', quote_ident(setup.layer_schema(p_run, 'gold')));
    EXECUTE format('SELECT count(*) FROM (%s) AS violations', v_query) INTO v_count;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION setup.count_violations(bigint, text) IS
    'The number of rows a quality check finds in the data a run sees.';
