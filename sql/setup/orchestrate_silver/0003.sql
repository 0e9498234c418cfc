-- dwh:object procedure setup.orchestrate_silver(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_silver(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_layers text;
    v_step record;
BEGIN
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
    -- The steps of setup.layer_steps, one after the other (dwh runs each wave's
    -- steps at once on several connections).
    FOR v_step IN SELECT s.target, s.statement
                    FROM setup.layer_steps(v_run, 'silver') WITH ORDINALITY AS s(wave, target, statement, n)
                   ORDER BY s.wave, s.n LOOP
        CALL setup.run_step(v_run, 'silver', 'build', v_step.target, v_step.statement);
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
