-- dwh:object function setup.describe_load_error(text, text, text)
CREATE OR REPLACE FUNCTION setup.describe_load_error(p_path text, p_message text, p_context text)
RETURNS text
LANGUAGE sql IMMUTABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
    -- "FILE, line N: what is wrong", the line taken from COPY's error context; one
    -- printable line of bounded length, whatever the file put in it.
    SELECT setup.printable(CASE
        WHEN p_message ~ '^line [0-9]+: ' THEN p_path || ', ' || p_message
        WHEN p_context ~ 'COPY [^,]+, line [0-9]+' THEN
            p_path || ', line ' || substring(p_context FROM 'COPY [^,]+, line ([0-9]+)') || ': ' || p_message
        WHEN p_path IS NULL THEN p_message
        ELSE p_path || ': ' || p_message
    END, 1000)
$$;

COMMENT ON FUNCTION setup.describe_load_error(text, text, text) IS
    'An error of a file load as FILE, line N: MESSAGE (printable, bounded).';
