-- dwh:object function setup.parse_int(text)
CREATE OR REPLACE FUNCTION setup.parse_int(p_value text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
AS $$
    -- What '^-?[0-9]{1,9}$' accepts, tested the cheap way first: a search for
    -- a non-digit and a length (a counted repetition costs the regular
    -- expression engine about three times as much, and this runs per value).
    SELECT CASE WHEN p_value !~ '[^0-9]' THEN
                    CASE WHEN octet_length(p_value) BETWEEN 1 AND 9 THEN p_value::integer END
                WHEN p_value ~ '^-[0-9]{1,9}$' THEN p_value::integer
           END
$$;

COMMENT ON FUNCTION setup.parse_int(text) IS
    'The integer a text holds, or NULL when it does not hold one (never an error).';
