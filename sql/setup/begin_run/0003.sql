-- dwh:object function setup.begin_run(text, text, boolean)
CREATE OR REPLACE FUNCTION setup.begin_run(p_layers text, p_bronze_source text DEFAULT 'server',
                                           p_allow_shrink boolean DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint;
    v_input text := CASE p_layers WHEN 'silver' THEN 'bronze' WHEN 'gold' THEN 'silver' END;
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

    -- One layer alone is built from the published layer before it: there must be one.
    IF v_input IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM setup.etl_runs r
             WHERE r.status = 'succeeded' AND r.layers IN ('all', v_input)) THEN
        RAISE EXCEPTION 'a run of % alone builds it from the published %, which no run has published yet', p_layers, v_input
            USING HINT = format('run every layer first (dwh orchestrate, or CALL '
                                'setup.orchestrate_all()), or %s alone first', v_input);
    END IF;
    -- A load may fall short of its job's guard when the run allows it (dwh
    -- orchestrate --allow-shrink; in SQL, SET dwh.allow_shrink = on).
    INSERT INTO setup.etl_runs (layers, bronze_source, allow_shrink)
    VALUES (p_layers, p_bronze_source,
            coalesce(p_allow_shrink, nullif(current_setting('dwh.allow_shrink', true), '')::boolean,
                     false))
    RETURNING run_id INTO v_run;
    RETURN v_run;
END;
$$;

COMMENT ON FUNCTION setup.begin_run(text, text, boolean) IS
    'Start a run of the given layers (one alone needs the layer before it published); first '
    'marks runs of sessions that are gone as abandoned.';
