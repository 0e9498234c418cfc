-- dwh:object function setup.run_step_as_owner(bigint, text, text)
CREATE OR REPLACE FUNCTION setup.run_step_as_owner(p_run bigint, p_target text, p_sql text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_layers text;
    v_rows bigint;
BEGIN
    -- A build step of a run started by a role without dwh_owner's privileges (a
    -- dwh_loader login), run as dwh_owner, which owns what the steps rebuild.
    -- Only the run's own statements: the one setup.run_plan gives the target, or
    -- the bronze stage's preparation; never SQL of the caller's choosing; and only
    -- in the caller's own run, while it holds the warehouse lock (setup.join_run).
    PERFORM setup.join_run(p_run);
    SELECT layers INTO v_layers FROM setup.etl_runs WHERE run_id = p_run AND status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist or is not running', p_run;
    END IF;
    IF NOT ((p_target = 'bronze.load_jobs' AND p_sql = 'SELECT setup.prepare_bronze()'
             AND v_layers IN ('all', 'bronze'))
            OR EXISTS (SELECT 1
                         FROM setup.run_plan(p_run, CASE v_layers WHEN 'all'
                                                    THEN ARRAY['bronze', 'silver', 'gold']
                                                    ELSE ARRAY[v_layers] END) AS p
                        WHERE p.kind = 'build' AND p.target = p_target
                          AND p.statement = p_sql)) THEN
        RAISE EXCEPTION 'run %: % is not the statement of its step %', p_run, p_sql, p_target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE p_sql INTO v_rows;
    RETURN v_rows;
END;
$$;

ALTER FUNCTION setup.run_step_as_owner(bigint, text, text) OWNER TO dwh_owner;
REVOKE ALL ON FUNCTION setup.run_step_as_owner(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION setup.run_step_as_owner(bigint, text, text) TO dwh_loader;

COMMENT ON FUNCTION setup.run_step_as_owner(bigint, text, text) IS
    'Run a build step of a running run as dwh_owner (for a role without its privileges); '
    'only the statement the run''s plan gives that step; returns its rows.';
