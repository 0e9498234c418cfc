-- dwh:object function setup.parse_yyyymmdd(text)
CREATE OR REPLACE FUNCTION setup.parse_yyyymmdd(p_value text)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
AS $$
    -- Self-contained (no call of parse_iso_date) so that the planner inlines it.
    SELECT CASE WHEN p_value ~ '^[0-9]{8}$' THEN
        CASE WHEN substr(p_value, 1, 4)::int >= 1
              AND substr(p_value, 5, 2)::int BETWEEN 1 AND 12
              AND substr(p_value, 7, 2)::int BETWEEN 1 AND
                  CASE WHEN substr(p_value, 5, 2)::int = 2 THEN
                           CASE WHEN (substr(p_value, 1, 4)::int % 4 = 0
                                      AND substr(p_value, 1, 4)::int % 100 <> 0)
                                  OR substr(p_value, 1, 4)::int % 400 = 0 THEN 29 ELSE 28 END
                       WHEN substr(p_value, 5, 2)::int IN (4, 6, 9, 11) THEN 30
                       ELSE 31 END
        THEN make_date(substr(p_value, 1, 4)::int, substr(p_value, 5, 2)::int,
                       substr(p_value, 7, 2)::int)
        END
    END
$$;

COMMENT ON FUNCTION setup.parse_yyyymmdd(text) IS
    'An 8-digit YYYYMMDD text as a date; NULL for 0, another length, or no real date.';
