-- dwh:object function setup.bronze_load_end(bigint, bigint, text, text, text, text, bigint, text)
CREATE OR REPLACE FUNCTION setup.bronze_load_end(p_run bigint, p_step bigint, p_table text,
                                                 p_path text, p_method text, p_status text,
                                                 p_rows bigint, p_message text)
RETURNS void
LANGUAGE sql SECURITY INVOKER
AS $$
    INSERT INTO bronze.load_log (run_id, table_name, file_path, method, status, rows_loaded,
                                 started_at, finished_at, message)
    -- a step's warning (an old file) is a load that succeeded, with its message
    SELECT p_run, p_table, coalesce(p_path, '(not found)'), p_method,
           CASE p_status WHEN 'warning' THEN 'succeeded' ELSE p_status END, p_rows,
           s.started_at, clock_timestamp(), p_message
      FROM setup.etl_run_steps s WHERE s.step_id = p_step;
    SELECT setup.step_end(p_step, p_status, p_rows, p_message);
$$;

COMMENT ON FUNCTION setup.bronze_load_end(bigint, bigint, text, text, text, text, bigint, text) IS
    'Record the end of a file load in bronze.load_log and in the run''s steps.';
