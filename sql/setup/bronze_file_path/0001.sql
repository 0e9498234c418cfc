-- dwh:object function setup.bronze_file_path(text)
CREATE OR REPLACE FUNCTION setup.bronze_file_path(p_table text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
DECLARE
    v_job record;
    v_key text;
    v_dir text;
    v_file text;
BEGIN
    SELECT * INTO v_job FROM bronze.load_jobs WHERE table_name = p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bronze.% is not a load job (see bronze.load_jobs)', p_table;
    END IF;
    v_key := format('source.%s.base_path', v_job.source);
    SELECT value INTO v_dir FROM setup.etl_config WHERE key = v_key;
    IF v_dir IS NULL OR btrim(v_dir) = '' THEN
        RAISE EXCEPTION 'setup.etl_config has no directory for source %, needed to load bronze.%', v_job.source, p_table
            USING HINT = format('set it: UPDATE setup.etl_config SET value = %L WHERE key = %L '
                                '(a directory the database server can read), or load from the '
                                'client with: dwh orchestrate --source-dir DIR',
                                '/path/to/source_' || v_job.source, v_key);
    END IF;
    SELECT f INTO v_file FROM pg_catalog.pg_ls_dir(v_dir) AS f
     WHERE lower(f) = lower(v_job.file_name) ORDER BY f COLLATE "C" LIMIT 1;
    IF v_file IS NULL THEN
        RAISE EXCEPTION '%/%: no such file (matched case-insensitively), needed for bronze.%',
            rtrim(v_dir, '/'), v_job.file_name, p_table
            USING HINT = format('the directory comes from setup.etl_config key %s', v_key);
    END IF;
    RETURN rtrim(v_dir, '/') || '/' || v_file;
END;
$$;

COMMENT ON FUNCTION setup.bronze_file_path(text) IS
    'The server-side path of a bronze job''s file: its source''s base path from etl_config, '
    'file name matched case-insensitively.';
