-- dwh:object function setup.bronze_file_path(text)
CREATE OR REPLACE FUNCTION setup.bronze_file_path(p_table text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
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
    -- A job reads <base path>/<dataset>.csv of its table and nothing else, whatever
    -- its row says (dwh_loader may change bronze.load_jobs).
    IF v_job.source IS DISTINCT FROM split_part(p_table, '_', 1)
       OR lower(v_job.file_name) IS DISTINCT FROM lower(substr(p_table, strpos(p_table, '_') + 1) || '.csv')
       OR p_table ~ '[/\\]|\.\.' THEN
        RAISE EXCEPTION 'bronze.load_jobs says bronze.% reads source %, file %: a job reads only source_%/% of its table''s source directory',
            p_table, setup.printable(v_job.source, 60), setup.printable(v_job.file_name, 60),
            split_part(p_table, '_', 1), substr(p_table, strpos(p_table, '_') + 1) || '.csv'
            USING HINT = format('set it back: UPDATE bronze.load_jobs SET source = %L, file_name = %L WHERE table_name = %L',
                                split_part(p_table, '_', 1),
                                substr(p_table, strpos(p_table, '_') + 1) || '.csv', p_table);
    END IF;
    IF NOT (has_function_privilege('pg_catalog.pg_ls_dir(text)', 'EXECUTE')
            AND pg_has_role('pg_read_server_files', 'USAGE')) THEN
        RAISE EXCEPTION 'user % may not read files on the database server, needed to load bronze.% there', current_user, p_table
            USING HINT = 'load from the client instead (dwh orchestrate --source-dir DIR), or run '
                         'as a superuser; for a dwh_loader login a superuser can opt in, '
                         'see the README: Operating safely';
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
    '<dataset>.csv of its table matched case-insensitively; refuses a job that says otherwise.';
