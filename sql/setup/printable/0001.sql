-- dwh:object function setup.printable(text, integer)
CREATE OR REPLACE FUNCTION setup.printable(p_text text, p_limit integer DEFAULT 200)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_text text := p_text;
    v_char text;
BEGIN
    -- What a file put in a message, as one readable line: cut to about p_limit
    -- characters (its start and end kept), then each control character, line or
    -- paragraph separator and bidirectional override escaped (\x1b, \u2028).
    IF v_text IS NULL THEN
        RETURN NULL;
    END IF;
    IF length(v_text) > p_limit THEN
        v_text := left(v_text, p_limit / 2) || ' [...] ' || right(v_text, p_limit / 2);
    END IF;
    FOR v_char IN SELECT DISTINCT m[1]
                    FROM regexp_matches(v_text, E'([\\x01-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069])', 'g') AS m LOOP
        v_text := replace(v_text, v_char,
                          CASE WHEN ascii(v_char) < 256 THEN '\x' || lpad(to_hex(ascii(v_char)), 2, '0')
                               ELSE '\u' || lpad(to_hex(ascii(v_char)), 4, '0') END);
    END LOOP;
    RETURN v_text;
END;
$$;

COMMENT ON FUNCTION setup.printable(text, integer) IS
    'A text from a file as one readable line of bounded length: cut, control characters escaped.';
