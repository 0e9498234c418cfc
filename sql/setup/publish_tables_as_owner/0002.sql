-- dwh:object function setup.publish_tables_as_owner(bigint, text[])
CREATE OR REPLACE FUNCTION setup.publish_tables_as_owner(p_run bigint, p_layers text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_layers text;
    v_missing text;
BEGIN
    -- setup.publish_tables as dwh_owner, which owns the published tables, for a
    -- run started by a role without its privileges: only the caller's own run,
    -- while it holds the warehouse lock, of the layers it was started for, once
    -- every load and check it had to pass has passed.
    PERFORM setup.join_run(p_run);
    SELECT layers INTO v_layers FROM setup.etl_runs WHERE run_id = p_run;
    IF p_layers IS DISTINCT FROM (CASE v_layers WHEN 'all' THEN ARRAY['bronze', 'silver', 'gold']
                                                ELSE ARRAY[v_layers] END) THEN
        RAISE EXCEPTION 'run % is a run of %, not of %', p_run, v_layers, p_layers
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT string_agg(x.what, ', ') INTO v_missing FROM (
        SELECT format('%s %s %s (%s)', s.layer, s.kind, s.target, s.status) AS what
          FROM setup.etl_run_steps s
         WHERE s.run_id = p_run AND s.status NOT IN ('succeeded', 'warning')
           AND s.kind <> 'publish'
        UNION ALL
        SELECT format('check %s (not run)', q.check_name)
          FROM setup.quality_checks q
         WHERE q.enabled AND q.layer = ANY (p_layers)
           AND NOT EXISTS (SELECT 1 FROM setup.etl_run_steps s
                            WHERE s.run_id = p_run AND s.kind = 'check'
                              AND s.target = q.check_name)
        UNION ALL
        SELECT format('load bronze.%s (not run)', j.table_name)
          FROM bronze.load_jobs j
         WHERE j.enabled AND 'bronze' = ANY (p_layers)
           AND NOT EXISTS (SELECT 1 FROM setup.etl_run_steps s
                            WHERE s.run_id = p_run AND s.kind = 'load'
                              AND s.target = 'bronze.' || j.table_name)) AS x;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'run % cannot publish before its steps pass: %', p_run, v_missing
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
