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
    v_copy text;
    v_rows bigint;
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
        EXECUTE format('TRUNCATE bronze_stage.%I', p_table);
        EXECUTE v_copy || ', FREEZE true)';
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXCEPTION WHEN invalid_transaction_state THEN
        EXECUTE v_copy || ')';
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    END;
    PERFORM setup.analyze_load(p_table);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION setup.load_bronze_file(text, text) IS
    'Load one CSV file the server can read into bronze_stage.<table> (truncated first, its '
    'rows frozen by COPY FREEZE unless a cursor is open); returns the rows loaded.';
