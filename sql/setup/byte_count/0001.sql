-- dwh:object function setup.byte_count(bytea, text)
CREATE OR REPLACE FUNCTION setup.byte_count(p_bytes bytea, p_char text)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
    -- How often the ASCII character p_char occurs in p_bytes ('escape' keeps ASCII
    -- other than the backslash as it is, so counting in its text is counting bytes).
    SELECT (length(t) - length(replace(t, p_char, ''))) / length(p_char)
      FROM (SELECT encode(p_bytes, 'escape') AS t) AS e
$$;

COMMENT ON FUNCTION setup.byte_count(bytea, text) IS
    'How often an ASCII character (not the backslash) occurs in a bytea.';
