-- dwh:object function setup.analyze_load(text)
CREATE OR REPLACE FUNCTION setup.analyze_load(p_table text)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Statistics of a freshly loaded staged bronze table, for whoever loaded it: as
    -- itself when it has dwh_owner's privileges, else as dwh_owner.
    IF pg_has_role('dwh_owner', 'USAGE') THEN
        PERFORM setup.analyze_bronze(p_table);
    ELSE
        PERFORM setup.analyze_bronze_as_owner(p_table);
    END IF;
END;
$$;

COMMENT ON FUNCTION setup.analyze_load(text) IS
    'ANALYZE a staged bronze table after its load (setup.analyze_bronze), as dwh_owner when '
    'the caller lacks its privileges.';
