-- dwh:object procedure setup.orchestrate_layer(text, bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_layer(p_layer text, p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_layers text;
    v_step record;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    -- Silver or gold: the steps of setup.layer_steps, one after the other (dwh runs
    -- each wave's steps at once on several connections), from the layer before as
    -- this run sees it.  Alone it is a run of its own: checked and published.
    IF p_layer IS NULL OR p_layer NOT IN ('silver', 'gold') THEN
        RAISE EXCEPTION 'setup.orchestrate_layer builds silver or gold, not %', p_layer;
    END IF;
    IF to_regnamespace(p_layer || '_stage') IS NULL THEN
        RAISE EXCEPTION 'setup.orchestrate_layer: the % layer is not deployed', p_layer
            USING HINT = 'deploy the warehouse first: dwh upgrade (or alembic upgrade head)';
    END IF;
    IF v_run IS NULL THEN
        PERFORM setup.lock_warehouse();
        v_run := setup.begin_run(p_layer);
        COMMIT;
    END IF;
    SELECT layers INTO v_layers FROM setup.etl_runs WHERE run_id = v_run AND status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist or is not running', v_run;
    END IF;
    FOR v_step IN SELECT s.target, s.statement
                    FROM setup.layer_steps(v_run, p_layer) WITH ORDINALITY AS s(wave, target, statement, n)
                   ORDER BY s.wave, s.n LOOP
        CALL setup.run_step(v_run, p_layer, 'build', v_step.target, v_step.statement);
    END LOOP;
    IF v_layers = p_layer THEN
        CALL setup.run_quality_checks(v_run, ARRAY[p_layer]);
        CALL setup.publish(v_run, ARRAY[p_layer]);
        IF p_run_id IS NULL THEN
            PERFORM setup.release_lock();
        END IF;
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_layer(text, bigint) IS
    'Build silver or gold (setup.layer_steps, one step after another); alone, a run of its own '
    'that is checked and published. Call it in autocommit mode.';
