-- dwh:object procedure setup.orchestrate_silver(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_silver(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_layers text;
    v_source text;
    v_table text;
    v_tables text[] := ARRAY['crm_cust_info', 'crm_prd_info', 'crm_sales_details',
                             'erp_cust_az12', 'erp_loc_a101', 'erp_px_cat_g1v2'];
BEGIN
    -- Each load function creates its staged table (CREATE TABLE AS); the stage
    -- schema is only emptied first.
    IF to_regnamespace('silver_stage') IS NULL OR to_regclass('silver.crm_cust_info') IS NULL THEN
        RAISE EXCEPTION 'setup.orchestrate_silver: the silver layer is not deployed'
            USING HINT = 'deploy the warehouse first: dwh upgrade (or alembic upgrade head)';
    END IF;
    IF v_run IS NULL THEN
        PERFORM setup.lock_warehouse();
        v_run := setup.begin_run('silver');
        COMMIT;
    END IF;
    SELECT layers INTO v_layers FROM setup.etl_runs WHERE run_id = v_run AND status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist or is not running', v_run;
    END IF;
    -- Built from bronze as this run sees it: staged in a run of all layers.
    v_source := setup.layer_schema(v_run, 'bronze');

    CALL setup.run_step(v_run, 'silver', 'build', 'silver_stage',
                        format('SELECT setup.prepare_stage(%L, %L)', 'silver', '{}'::text[]));
    FOREACH v_table IN ARRAY v_tables LOOP
        CALL setup.run_step(v_run, 'silver', 'build', 'silver.' || v_table,
                            format('SELECT silver.%I(%L, %L)', 'load_' || v_table, v_source,
                                   'silver_stage'));
    END LOOP;

    IF v_layers = 'silver' THEN
        CALL setup.run_quality_checks(v_run, ARRAY['silver']);
        CALL setup.publish(v_run, ARRAY['silver']);
        IF p_run_id IS NULL THEN
            PERFORM setup.release_lock();
        END IF;
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_silver(bigint) IS
    'Silver layer: build every silver table from bronze (staged in a run of all layers). '
    'Alone it is a run of its own: checked and published. Call it in autocommit mode.';
