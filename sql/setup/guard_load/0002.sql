-- dwh:object function setup.guard_load(bigint, text, bigint, timestamp with time zone)
CREATE OR REPLACE FUNCTION setup.guard_load(p_run bigint, p_table text, p_rows bigint,
                                            p_modified timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_job record;
    v_last record;
    v_allow boolean;
    v_max_age interval;
    v_stale text;
    v_age interval;
BEGIN
    -- What a load must pass before the run goes on with it: its volume against
    -- the last published load of the job (bronze.load_jobs.max_shrink: the share
    -- of rows it may lose; NULL turns the guard off; a first load is not
    -- guarded), then the age of its file (source.<source>.max_age, if set).
    -- Raises what fails; returns a warning, or NULL.
    SELECT * INTO v_job FROM bronze.load_jobs WHERE table_name = p_table;
    SELECT coalesce(r.allow_shrink, false) INTO v_allow FROM setup.etl_runs r WHERE r.run_id = p_run;
    SELECT l.rows_loaded, l.run_id, l.finished_at INTO v_last
      FROM bronze.load_log l JOIN setup.etl_runs r ON r.run_id = l.run_id
     WHERE l.table_name = p_table AND l.status = 'succeeded' AND r.status = 'succeeded'
       AND r.layers IN ('all', 'bronze') AND l.rows_loaded IS NOT NULL
     ORDER BY l.finished_at DESC
     LIMIT 1;
    -- (an empty file where the last load had rows falls by all of them: refused
    -- unless max_shrink is 1)
    IF v_job.max_shrink IS NOT NULL AND v_last.rows_loaded > 0 AND NOT v_allow
       AND p_rows < v_last.rows_loaded * (1 - v_job.max_shrink) THEN
        RAISE EXCEPTION '% rows, against % in the last published load of bronze.% (run %, %): % fewer, more than the job allows (max_shrink %)',
            to_char(p_rows, 'FM999G999G999G990'), to_char(v_last.rows_loaded, 'FM999G999G999G990'),
            p_table, v_last.run_id, to_char(v_last.finished_at, 'YYYY-MM-DD HH24:MI'),
            to_char(100.0 * (v_last.rows_loaded - p_rows) / v_last.rows_loaded, 'FM990') || '%',
            v_job.max_shrink
            USING HINT = format('if the extract is right, run again with dwh orchestrate '
                                '--allow-shrink (in SQL: SET dwh.allow_shrink = on), or set '
                                'the job''s limit: UPDATE bronze.load_jobs SET max_shrink = 0.9 '
                                'WHERE table_name = %L (NULL turns the guard off)', p_table);
    END IF;
    SELECT nullif(btrim(value), '')::interval INTO v_max_age
      FROM setup.etl_config WHERE key = format('source.%s.max_age', v_job.source);
    IF v_max_age IS NULL OR p_modified IS NULL THEN
        RETURN NULL;
    END IF;
    v_age := date_trunc('second', clock_timestamp() - p_modified);
    IF v_age <= v_max_age THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(nullif(btrim(value), ''), 'warning') INTO v_stale
      FROM setup.etl_config WHERE key = format('source.%s.stale', v_job.source);
    IF coalesce(v_stale, 'warning') NOT IN ('warning', 'error') THEN
        RAISE EXCEPTION 'setup.etl_config source.%.stale is %: expected warning or error',
            v_job.source, quote_literal(v_stale);
    ELSIF coalesce(v_stale, 'warning') = 'error' THEN
        RAISE EXCEPTION 'the file is % old (modified %), older than source.%.max_age (%)',
            v_age, to_char(p_modified, 'YYYY-MM-DD HH24:MI:SS TZ'), v_job.source, v_max_age
            USING HINT = format('deliver a fresh extract, or raise the limit: UPDATE '
                                'setup.etl_config SET value = ''2 days'' WHERE key = %L',
                                format('source.%s.max_age', v_job.source));
    END IF;
    RETURN format('the file is %s old (modified %s), older than source.%s.max_age (%s)',
                  v_age, to_char(p_modified, 'YYYY-MM-DD HH24:MI:SS TZ'), v_job.source, v_max_age);
END;
$$;

COMMENT ON FUNCTION setup.guard_load(bigint, text, bigint, timestamp with time zone) IS
    'Check a load against the last published load of its job (bronze.load_jobs.max_shrink) '
    'and its file''s age (source.<source>.max_age, .stale); raises a failure, returns a warning.';
