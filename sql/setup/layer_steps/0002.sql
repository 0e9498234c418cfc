-- dwh:object function setup.layer_steps(bigint, text)
CREATE OR REPLACE FUNCTION setup.layer_steps(p_run bigint, p_layer text)
RETURNS TABLE (wave integer, target text, statement text)
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
BEGIN
    -- The build steps of a layer from setup.run_plan, one after the other: each
    -- step is a wave of its own (setup.orchestrate_layer runs them in order; dwh
    -- runs the whole plan by what each step needs).
    IF p_layer IS NULL OR p_layer NOT IN ('silver', 'gold') THEN
        RAISE EXCEPTION 'no build steps for layer %', p_layer;
    END IF;
    RETURN QUERY
    SELECT p.n::integer, p.target, p.statement
      FROM setup.run_plan(p_run, ARRAY[p_layer]) WITH ORDINALITY AS p(layer, kind, target, statement, needs, n)
     WHERE p.kind = 'build'
     ORDER BY p.n;
END;
$$;

COMMENT ON FUNCTION setup.layer_steps(bigint, text) IS
    'The build steps of silver or gold for a run, in the order setup.run_plan gives them.';
