-- dwh:object function setup.begin_run(text, text)
CREATE OR REPLACE FUNCTION setup.begin_run(p_layers text, p_bronze_source text DEFAULT 'server')
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint;
BEGIN
    IF p_layers IS NULL OR p_layers NOT IN ('bronze', 'silver', 'gold', 'all') THEN
        RAISE EXCEPTION 'unknown layer %: expected bronze, silver, gold or all', p_layers;
    END IF;
    IF p_bronze_source IS NULL OR p_bronze_source NOT IN ('server', 'client') THEN
        RAISE EXCEPTION 'unknown bronze source %: expected server or client', p_bronze_source;
    END IF;
    -- A run whose session is gone (a killed client, a restarted server) is
    -- abandoned: recorded as such, never left "running" forever.
    WITH gone AS (
        UPDATE setup.etl_runs r
           SET status = 'abandoned', finished_at = clock_timestamp(),
               message = 'the session running it ended before the run finished'
         WHERE r.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                            WHERE a.pid = r.backend_pid
                              -- (backend_start is hidden from roles without pg_read_all_stats)
                              AND (a.backend_start IS NULL OR a.backend_start <= r.started_at))
        RETURNING r.run_id
    )
    UPDATE setup.etl_run_steps s
       SET status = 'failed', finished_at = clock_timestamp(), message = 'run abandoned'
      FROM gone
     WHERE s.run_id = gone.run_id AND s.status = 'running';

    INSERT INTO setup.etl_runs (layers, bronze_source)
    VALUES (p_layers, p_bronze_source)
    RETURNING run_id INTO v_run;
    RETURN v_run;
END;
$$;

COMMENT ON FUNCTION setup.begin_run(text, text) IS
    'Start a run of the given layers; first marks runs of sessions that are gone as abandoned.';
