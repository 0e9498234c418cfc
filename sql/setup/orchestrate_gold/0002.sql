-- dwh:object procedure setup.orchestrate_gold(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_gold(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_layers text;
    v_source text;
    v_table text;
    -- In build order: the key map, the dimensions, then the facts.
    v_tables text[] := ARRAY['surrogate_keys', 'dim_customers', 'dim_products', 'fact_sales'];
BEGIN
    -- Each load function creates its staged table (CREATE TABLE AS); the stage
    -- schema is only emptied first.
    IF to_regnamespace('gold_stage') IS NULL OR to_regclass('gold.fact_sales') IS NULL THEN
        RAISE EXCEPTION 'setup.orchestrate_gold: the gold layer is not deployed'
            USING HINT = 'deploy the warehouse first: dwh upgrade (or alembic upgrade head)';
    END IF;
    IF v_run IS NULL THEN
        PERFORM setup.lock_warehouse();
        v_run := setup.begin_run('gold');
        COMMIT;
    END IF;
    SELECT layers INTO v_layers FROM setup.etl_runs WHERE run_id = v_run AND status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist or is not running', v_run;
    END IF;
    -- Built from silver as this run sees it: staged in a run of all layers.
    v_source := setup.layer_schema(v_run, 'silver');

    CALL setup.run_step(v_run, 'gold', 'build', 'gold_stage',
                        format('SELECT setup.prepare_stage(%L, %L)', 'gold', '{}'::text[]));
    FOREACH v_table IN ARRAY v_tables LOOP
        CALL setup.run_step(v_run, 'gold', 'build', 'gold.' || v_table,
                            format('SELECT gold.%I(%L, %L)', 'load_' || v_table, v_source,
                                   'gold_stage'));
    END LOOP;

    IF v_layers = 'gold' THEN
        CALL setup.run_quality_checks(v_run, ARRAY['gold']);
        CALL setup.publish(v_run, ARRAY['gold']);
        IF p_run_id IS NULL THEN
            PERFORM setup.release_lock();
        END IF;
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_gold(bigint) IS
    'Gold layer: build the surrogate keys, dimensions and facts from silver (staged in a run of '
    'all layers). Alone it is a run of its own: checked and published. Call it in autocommit mode.';
