-- dwh:object function setup.csv_quote_opened(text)
CREATE OR REPLACE FUNCTION setup.csv_quote_opened(p_path text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_chunk constant bigint := 16777216;
    v_offset bigint := 0;
    v_lines bigint := 0;
    v_chunk bytea;
    v_text text;
    v_line bigint;
BEGIN
    -- For a CSV file whose last quote is never closed (COPY reports it at the end
    -- of the file): the line where that quote opens, the file's last quote.
    LOOP
        v_chunk := pg_read_binary_file(p_path, v_offset, c_chunk);
        EXIT WHEN length(v_chunk) = 0;
        v_text := encode(v_chunk, 'escape');
        IF strpos(v_text, '"') > 0 THEN
            v_line := v_lines + setup.byte_count(convert_to(
                          left(v_text, length(v_text) - strpos(reverse(v_text), '"')), 'UTF8'),
                          E'\n') + 1;
        END IF;
        v_lines := v_lines + setup.byte_count(v_chunk, E'\n');
        v_offset := v_offset + length(v_chunk);
        EXIT WHEN length(v_chunk) < c_chunk;
    END LOOP;
    RETURN v_line;
END;
$$;

COMMENT ON FUNCTION setup.csv_quote_opened(text) IS
    'The line of a server file''s last quote (where an unterminated quoted field opens).';
