-- dwh:object function setup.step_begin(bigint, text, text, text)
CREATE OR REPLACE FUNCTION setup.step_begin(p_run bigint, p_layer text, p_kind text, p_target text)
RETURNS bigint
LANGUAGE sql SECURITY INVOKER
AS $$
    INSERT INTO setup.etl_run_steps (run_id, layer, kind, target)
    VALUES (p_run, p_layer, p_kind, p_target)
    RETURNING step_id
$$;

COMMENT ON FUNCTION setup.step_begin(bigint, text, text, text) IS
    'Record that a step of a run started; returns its id.';
