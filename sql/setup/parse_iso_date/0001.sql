-- dwh:object function setup.parse_iso_date(text)
CREATE OR REPLACE FUNCTION setup.parse_iso_date(p_value text)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
AS $$
    -- Nested CASEs: make_date only sees a real calendar date, so bad input is
    -- NULL, never an error.
    SELECT CASE WHEN p_value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        CASE WHEN substr(p_value, 1, 4)::int >= 1
              AND substr(p_value, 6, 2)::int BETWEEN 1 AND 12
              AND substr(p_value, 9, 2)::int BETWEEN 1 AND
                  CASE WHEN substr(p_value, 6, 2)::int = 2 THEN
                           CASE WHEN (substr(p_value, 1, 4)::int % 4 = 0
                                      AND substr(p_value, 1, 4)::int % 100 <> 0)
                                  OR substr(p_value, 1, 4)::int % 400 = 0 THEN 29 ELSE 28 END
                       WHEN substr(p_value, 6, 2)::int IN (4, 6, 9, 11) THEN 30
                       ELSE 31 END
        THEN make_date(substr(p_value, 1, 4)::int, substr(p_value, 6, 2)::int,
                       substr(p_value, 9, 2)::int)
        END
    END
$$;

COMMENT ON FUNCTION setup.parse_iso_date(text) IS
    'A YYYY-MM-DD text as a date, or NULL when it is not a real calendar date.';
