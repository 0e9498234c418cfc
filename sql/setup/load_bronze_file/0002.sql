-- dwh:object function setup.load_bronze_file(text, text)
CREATE OR REPLACE FUNCTION setup.load_bronze_file(p_table text, p_path text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_head bytea;
    v_newline integer;
    v_header text;
    v_columns text[];
    v_rows bigint;
    v_target text;
BEGIN
    -- Server-side COPY into the staged table; the header is checked first
    -- (COPY's own HEADER MATCH is case-sensitive, the sources are not).
    v_head := pg_catalog.pg_read_binary_file(p_path, 0, 65536);
    v_newline := position('\x0a'::bytea IN v_head);
    IF v_newline > 0 THEN
        v_head := substring(v_head FROM 1 FOR v_newline - 1);
    END IF;
    BEGIN
        v_header := convert_from(v_head, 'UTF8');
    EXCEPTION WHEN character_not_in_repertoire THEN
        RAISE EXCEPTION 'line 1: not valid UTF-8 (%); save the file as UTF-8', SQLERRM;
    END;
    v_columns := setup.check_header(format('bronze_stage.%I', p_table)::regclass, v_header);
    EXECUTE format('COPY bronze_stage.%I (%s) FROM %L WITH (FORMAT csv, HEADER true, ENCODING %L)',
                   p_table,
                   (SELECT string_agg(format('%I', c), ', ' ORDER BY n)
                      FROM unnest(v_columns) WITH ORDINALITY AS u(c, n)),
                   p_path, 'UTF8');
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    -- Statistics from a sample as small as run.bronze_statistics_target asks
    -- (raw text that silver reads whole); the same as the client's loads.
    v_target := current_setting('default_statistics_target');
    BEGIN
        PERFORM set_config('default_statistics_target', c.value, true)
           FROM setup.etl_config c
          WHERE c.key = 'run.bronze_statistics_target' AND c.value IS NOT NULL;
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'setup.etl_config run.bronze_statistics_target: %', SQLERRM
            USING HINT = 'set it to a whole number from 1 to 10000, 10 by default';
    END;
    EXECUTE format('ANALYZE bronze_stage.%I', p_table);
    PERFORM set_config('default_statistics_target', v_target, true);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION setup.load_bronze_file(text, text) IS
    'Load one CSV file the server can read into bronze_stage.<table>; returns the rows loaded.';
