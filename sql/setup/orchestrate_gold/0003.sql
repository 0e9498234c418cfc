-- dwh:object procedure setup.orchestrate_gold(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_gold(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_layers text;
    v_step record;
BEGIN
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
    -- The steps of setup.layer_steps, one after the other (dwh runs each wave's
    -- steps at once on several connections).
    FOR v_step IN SELECT s.target, s.statement
                    FROM setup.layer_steps(v_run, 'gold') WITH ORDINALITY AS s(wave, target, statement, n)
                   ORDER BY s.wave, s.n LOOP
        CALL setup.run_step(v_run, 'gold', 'build', v_step.target, v_step.statement);
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
