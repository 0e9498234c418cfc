-- dwh:object function setup.step_end(bigint, text, bigint, text)
CREATE OR REPLACE FUNCTION setup.step_end(p_step bigint, p_status text, p_rows bigint, p_message text)
RETURNS void
LANGUAGE sql SECURITY INVOKER
AS $$
    UPDATE setup.etl_run_steps
       SET status = p_status, rows = p_rows, message = p_message, finished_at = clock_timestamp()
     WHERE step_id = p_step
$$;

COMMENT ON FUNCTION setup.step_end(bigint, text, bigint, text) IS
    'Record how a step ended: status, rows, message.';
