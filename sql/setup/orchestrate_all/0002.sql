-- dwh:object procedure setup.orchestrate_all(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_all(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    -- Every layer is built into its stage schema, each from the one built
    -- before it; the checks run on the staged data; then one short
    -- transaction publishes all layers together.  A failure anywhere leaves
    -- every published table as the last successful run left it.
    IF v_run IS NULL THEN
        IF to_regclass('setup.etl_runs') IS NULL THEN
            RAISE EXCEPTION 'setup.orchestrate_all: the warehouse is not deployed'
                USING HINT = 'deploy it first: dwh upgrade (or alembic upgrade head)';
        END IF;
        PERFORM setup.lock_warehouse();
        v_run := setup.begin_run('all', 'server');
        COMMIT;
    ELSIF NOT EXISTS (SELECT 1 FROM setup.etl_runs
                       WHERE run_id = v_run AND layers = 'all' AND status = 'running') THEN
        RAISE EXCEPTION 'run % does not exist, is not running, or is not a run of all layers', v_run;
    END IF;

    RAISE NOTICE 'Starting complete data warehouse orchestration (run %)...', v_run;
    RAISE NOTICE '[1/3] Orchestrating Bronze layer...';
    CALL setup.orchestrate_bronze(v_run);
    RAISE NOTICE '[2/3] Orchestrating Silver layer...';
    CALL setup.orchestrate_silver(v_run);
    RAISE NOTICE '[3/3] Orchestrating Gold layer...';
    CALL setup.orchestrate_gold(v_run);
    CALL setup.run_quality_checks(v_run, ARRAY['bronze', 'silver', 'gold']);
    CALL setup.publish(v_run, ARRAY['bronze', 'silver', 'gold']);
    IF p_run_id IS NULL THEN
        PERFORM setup.release_lock();
    END IF;
    RAISE NOTICE 'Complete data warehouse orchestration finished successfully!';
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_all(bigint) IS
    'The whole pipeline: bronze, silver and gold, quality checks, then one atomic publish. '
    'CALL setup.orchestrate_all(); from psql (autocommit) loads bronze with server-side COPY.';
