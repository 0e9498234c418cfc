-- dwh:object function setup.count_violations_as_owner(bigint, text)
CREATE OR REPLACE FUNCTION setup.count_violations_as_owner(p_run bigint, p_check text)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- setup.count_violations as dwh_owner, for a run started by a role without its
    -- privileges: the check's own query (setup.quality_checks, which dwh_loader
    -- reads but may not change), never SQL of the caller's choosing; only in the
    -- caller's own run, while it holds the warehouse lock (setup.join_run).
    SELECT setup.join_run(p_run);
    SELECT setup.count_violations(p_run, p_check)
$$;

ALTER FUNCTION setup.count_violations_as_owner(bigint, text) OWNER TO dwh_owner;
REVOKE ALL ON FUNCTION setup.count_violations_as_owner(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION setup.count_violations_as_owner(bigint, text) TO dwh_loader;

COMMENT ON FUNCTION setup.count_violations_as_owner(bigint, text) IS
    'setup.count_violations run as dwh_owner (for a role without its privileges).';
