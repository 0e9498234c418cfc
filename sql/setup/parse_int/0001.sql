-- dwh:object function setup.parse_int(text)
CREATE OR REPLACE FUNCTION setup.parse_int(p_value text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
AS $$
    SELECT CASE WHEN p_value ~ '^-?[0-9]{1,9}$' THEN p_value::integer END
$$;

COMMENT ON FUNCTION setup.parse_int(text) IS
    'The integer a text holds, or NULL when it does not hold one (never an error).';
