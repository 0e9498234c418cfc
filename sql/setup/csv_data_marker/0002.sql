-- dwh:object function setup.csv_data_marker(text)
CREATE OR REPLACE FUNCTION setup.csv_data_marker(p_path text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_chunk constant bigint := 16777216;
    v_offset bigint := 0;
    v_chunk bytea;
    v_window bytea;
    v_tail bytea := '';
    v_at integer;
    v_from integer;
    v_before bytea;
    v_head bytea := pg_read_binary_file(p_path, 0, 65536);
    -- Lines end as the first one does, as COPY reads them: LF (or CRLF), or CR alone.
    v_cr boolean := position('\x0d'::bytea IN v_head) > 0
                    AND (position('\x0a'::bytea IN v_head) = 0
                         OR position('\x0a'::bytea IN v_head) > position('\x0d'::bytea IN v_head) + 1);
    v_eol bytea := CASE WHEN v_cr THEN '\x0d'::bytea ELSE '\x0a'::bytea END;
    v_marker bytea := v_eol || '\x5c2e'::bytea;
BEGIN
    -- The line of the first line of a CSV file (the server's) that holds only \.
    -- outside a quoted field, or NULL: a server before PostgreSQL 18 takes it for
    -- the end of the data and loads no line after it.  Read in chunks; a quote
    -- toggles the quoted state, as COPY's line reader has it.
    LOOP
        v_chunk := pg_read_binary_file(p_path, v_offset, c_chunk);
        EXIT WHEN length(v_chunk) = 0;
        v_window := v_tail || v_chunk;
        v_from := 1;
        LOOP
            v_at := position(v_marker IN substring(v_window FROM v_from));
            EXIT WHEN v_at = 0;
            v_at := v_at + v_from - 1;
            IF substring(v_window FROM v_at + 3 FOR 1) = v_eol
               OR (NOT v_cr AND substring(v_window FROM v_at + 3 FOR 2) = '\x0d0a'::bytea) THEN
                -- Rare: everything before it, read again, decides whether it is quoted.
                v_before := pg_read_binary_file(p_path, 0, v_offset - length(v_tail) + v_at);
                IF setup.byte_count(v_before, '"') % 2 = 0 THEN
                    RETURN setup.byte_count(v_before, CASE WHEN v_cr THEN E'\r' ELSE E'\n' END) + 1;
                END IF;
            END IF;
            v_from := v_at + 1;
        END LOOP;
        v_tail := substring(v_chunk FROM greatest(1, length(v_chunk) - 3));
        v_offset := v_offset + length(v_chunk);
        EXIT WHEN length(v_chunk) < c_chunk;
    END LOOP;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION setup.csv_data_marker(text) IS
    'The line of a server file''s first line holding only \. outside quotes (an end-of-data '
    'marker to servers before PostgreSQL 18), or NULL; lines end as its first line does.';
