-- dwh:object function setup.load_bronze_file(text, text)
CREATE OR REPLACE FUNCTION setup.load_bronze_file(p_table text, p_path text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_before record;
    v_head bytea;
    v_end integer;
    v_header text;
    v_columns text[];
    v_copy text;
    v_rows bigint;
    v_line bigint;
BEGIN
    -- Server-side COPY into the staged table; the header is checked first
    -- (COPY's own HEADER MATCH is case-sensitive, the sources are not).  Every
    -- record of the file is loaded, or the load fails naming the line.
    v_before := pg_catalog.pg_stat_file(p_path);
    IF v_before.size = 0 THEN  -- (a FIFO says 0 too: it is never opened, so never waited on)
        PERFORM setup.check_header(format('bronze_stage.%I', p_table)::regclass, NULL);
    END IF;
    v_head := pg_catalog.pg_read_binary_file(p_path, 0, 65536);
    v_end := least(nullif(position('\x0a'::bytea IN v_head), 0),
                   nullif(position('\x0d'::bytea IN v_head), 0));
    IF v_end IS NOT NULL THEN
        v_head := substring(v_head FROM 1 FOR v_end - 1);
    END IF;
    IF position('\x00'::bytea IN v_head) > 0 THEN
        RAISE EXCEPTION 'line 1: the header holds a NUL byte (at position %); save the file as text, without NULs',
            position('\x00'::bytea IN v_head);
    END IF;
    BEGIN
        v_header := convert_from(v_head, 'UTF8');
    EXCEPTION WHEN character_not_in_repertoire THEN
        RAISE EXCEPTION 'line 1: not valid UTF-8 (%); save the file as UTF-8', SQLERRM;
    END;
    v_columns := setup.check_header(format('bronze_stage.%I', p_table)::regclass, v_header);
    v_copy := format('COPY bronze_stage.%I (%s) FROM %L WITH (FORMAT csv, HEADER true, ENCODING %L',
                     p_table,
                     (SELECT string_agg(format('%I', c), ', ' ORDER BY n)
                        FROM unnest(v_columns) WITH ORDINALITY AS u(c, n)),
                     p_path, 'UTF8');
    -- Into a table truncated in this (sub)transaction, so COPY can FREEZE its
    -- rows: the first read of the table then has no hint bits to set (with
    -- data checksums, each would write the whole page to WAL), and at
    -- wal_level = minimal its rows write no WAL.  The staged table is empty
    -- and the run's own; a failed load rolls the TRUNCATE back with the rows.
    -- COPY FREEZE refuses to run while the session has a cursor open (a caller
    -- looping over a query, a cursor WITH HOLD); it checks that before reading
    -- a line, and the load then goes on as a plain COPY.
    BEGIN
        BEGIN
            EXECUTE format('TRUNCATE bronze_stage.%I', p_table);
            EXECUTE v_copy || ', FREEZE true)';
            GET DIAGNOSTICS v_rows = ROW_COUNT;
        EXCEPTION WHEN invalid_transaction_state THEN
            EXECUTE v_copy || ')';
            GET DIAGNOSTICS v_rows = ROW_COUNT;
        END;
    EXCEPTION WHEN OTHERS THEN
        -- What made COPY fail, when it is not what COPY says: the file changed under
        -- it (a line cut in two), or a quote opened far before the end COPY names.
        PERFORM setup.check_unchanged(p_path, v_before.size, v_before.modification);
        IF SQLERRM <> 'unterminated CSV quoted field' THEN
            RAISE;
        END IF;
        v_line := setup.csv_quote_opened(p_path);
        RAISE EXCEPTION 'line %: unterminated CSV quoted field: a quote opens on this line and is never closed; close it, or double a quote that is part of a value ("")',
            v_line USING ERRCODE = 'bad_copy_file_format';
    END;
    PERFORM setup.check_unchanged(p_path, v_before.size, v_before.modification);
    -- Before PostgreSQL 18 a line holding only \. ends the data, silently.
    IF current_setting('server_version_num')::integer < 180000 THEN
        v_line := setup.csv_data_marker(p_path);
        IF v_line IS NOT NULL THEN
            RAISE EXCEPTION 'line %: a line holding only \. , which this PostgreSQL takes for the end of the data (every line after it would be lost); remove the line, or quote it ("\.") if it is a value',
                v_line;
        END IF;
    END IF;
    PERFORM setup.analyze_load(p_table);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION setup.load_bronze_file(text, text) IS
    'Load one CSV file the server can read into bronze_stage.<table> (truncated first, its '
    'rows frozen by COPY FREEZE unless a cursor is open); every record or a failure naming '
    'the line; a file that changes meanwhile fails. Returns the rows loaded.';
