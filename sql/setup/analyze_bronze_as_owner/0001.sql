-- dwh:object function setup.analyze_bronze_as_owner(text)
CREATE OR REPLACE FUNCTION setup.analyze_bronze_as_owner(p_table text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- setup.analyze_bronze as dwh_owner (ANALYZE needs the table's owner), for a
    -- load by a role without its privileges; only the staged table of a load job.
    IF NOT EXISTS (SELECT 1 FROM bronze.load_jobs j WHERE j.table_name = p_table)
       OR to_regclass(format('bronze_stage.%I', p_table)) IS NULL THEN
        RAISE EXCEPTION 'bronze_stage.% is not the staged table of a load job', p_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM setup.analyze_bronze(p_table);
END;
$$;

ALTER FUNCTION setup.analyze_bronze_as_owner(text) OWNER TO dwh_owner;
REVOKE ALL ON FUNCTION setup.analyze_bronze_as_owner(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION setup.analyze_bronze_as_owner(text) TO dwh_loader;

COMMENT ON FUNCTION setup.analyze_bronze_as_owner(text) IS
    'setup.analyze_bronze run as dwh_owner, for the staged table of a load job.';
