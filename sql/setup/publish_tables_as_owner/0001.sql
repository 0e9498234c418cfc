-- dwh:object function setup.publish_tables_as_owner(bigint, text[])
CREATE OR REPLACE FUNCTION setup.publish_tables_as_owner(p_run bigint, p_layers text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- setup.publish_tables as dwh_owner, which owns the published tables, for a
    -- run started by a role without its privileges; only a running run's.
    IF NOT EXISTS (SELECT 1 FROM setup.etl_runs WHERE run_id = p_run AND status = 'running') THEN
        RAISE EXCEPTION 'run % does not exist or is not running', p_run
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN setup.publish_tables(p_run, p_layers);
END;
$$;

ALTER FUNCTION setup.publish_tables_as_owner(bigint, text[]) OWNER TO dwh_owner;
REVOKE ALL ON FUNCTION setup.publish_tables_as_owner(bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION setup.publish_tables_as_owner(bigint, text[]) TO dwh_loader;

COMMENT ON FUNCTION setup.publish_tables_as_owner(bigint, text[]) IS
    'setup.publish_tables run as dwh_owner (for a role without its privileges).';
