-- dwh:object procedure setup.orchestrate_bronze(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_bronze(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_run bigint := p_run_id;
    v_missing text;
    v_run_row record;
    v_table text;
    v_step bigint;
    v_path text;
    v_rows bigint;
    v_error text;
    v_context text;
    v_hint text;
    v_warning text;
    v_missing_loads text;
BEGIN
    PERFORM setup.check_search_path(pg_catalog.current_schemas(true));
    -- 1-3. The prerequisites exist.
    v_missing := concat_ws(', ',
        CASE WHEN to_regnamespace('bronze') IS NULL THEN 'schema bronze' END,
        CASE WHEN to_regnamespace('bronze_stage') IS NULL THEN 'schema bronze_stage' END,
        CASE WHEN to_regclass('setup.etl_config') IS NULL THEN 'table setup.etl_config' END,
        CASE WHEN to_regclass('bronze.load_log') IS NULL THEN 'table bronze.load_log' END,
        CASE WHEN to_regclass('bronze.load_jobs') IS NULL THEN 'table bronze.load_jobs' END);
    IF v_missing <> '' THEN
        RAISE EXCEPTION 'setup.orchestrate_bronze: % missing', v_missing
            USING HINT = 'deploy the warehouse first: dwh upgrade (or alembic upgrade head)';
    END IF;

    -- Called alone: a run of its own, under the warehouse lock.
    IF v_run IS NULL THEN
        PERFORM setup.lock_warehouse();
        v_run := setup.begin_run('bronze', 'server');
        COMMIT;
    END IF;
    SELECT * INTO v_run_row FROM setup.etl_runs WHERE run_id = v_run;
    IF NOT FOUND OR v_run_row.status <> 'running' THEN
        RAISE EXCEPTION 'run % does not exist or is not running', v_run;
    END IF;

    IF v_run_row.bronze_source = 'server' THEN
        -- 4-5. Discover the jobs, stage an empty table for each.
        CALL setup.run_step(v_run, 'bronze', 'build', 'bronze.load_jobs',
                            'SELECT setup.prepare_bronze()');
        -- Load every enabled job in its order, server-side COPY.
        -- Over an array, not a query: a loop over a query keeps a cursor open,
        -- and COPY FREEZE (setup.load_bronze_file) refuses to run beside one.
        FOREACH v_table IN ARRAY ARRAY(SELECT table_name FROM bronze.load_jobs WHERE enabled
                                       ORDER BY load_order, table_name) LOOP
            v_step := setup.step_begin(v_run, 'bronze', 'load', 'bronze.' || v_table);
            COMMIT;
            v_path := NULL;
            v_error := NULL;
            BEGIN
                PERFORM setup.join_run(v_run);  -- only while the run holds the warehouse lock
                v_path := setup.bronze_file_path(v_table);
                v_rows := setup.load_bronze_file(v_table, v_path);
                v_warning := setup.guard_load(v_run, v_table, v_rows,
                                              (pg_catalog.pg_stat_file(v_path)).modification);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_context = PG_EXCEPTION_CONTEXT,
                                        v_hint = PG_EXCEPTION_HINT;
                -- what to do next is in the hint: keep it
                v_error := setup.describe_load_error(v_path, v_error, v_context)
                           || coalesce(' (' || nullif(v_hint, '') || ')', '');
            END;
            IF v_error IS NOT NULL THEN
                PERFORM setup.bronze_load_end(v_run, v_step, v_table, v_path, 'server',
                                              'failed', NULL, v_error);
                CALL setup.fail_run(v_run, v_step, v_error);
            END IF;
            PERFORM setup.bronze_load_end(v_run, v_step, v_table, v_path, 'server',
                                          CASE WHEN v_warning IS NULL THEN 'succeeded'
                                               ELSE 'warning' END, v_rows,
                                          v_path || ': ' || v_warning);
            COMMIT;
        END LOOP;
    ELSE
        -- The client (dwh orchestrate) loads the files itself; all must be there.
        SELECT string_agg('bronze.' || j.table_name, ', ' ORDER BY j.load_order)
          INTO v_missing_loads
          FROM bronze.load_jobs j
         WHERE j.enabled AND NOT EXISTS (
               SELECT 1 FROM setup.etl_run_steps s
                WHERE s.run_id = v_run AND s.kind = 'load' AND s.status IN ('succeeded', 'warning')
                  AND s.target = 'bronze.' || j.table_name);
        IF v_missing_loads IS NOT NULL THEN
            CALL setup.fail_run(v_run, NULL, 'the client did not load ' || v_missing_loads);
        END IF;
    END IF;

    -- Alone, bronze is checked and published now; in a run of all layers,
    -- setup.orchestrate_all publishes every layer together at the end.
    IF v_run_row.layers = 'bronze' THEN
        CALL setup.run_quality_checks(v_run, ARRAY['bronze']);
        CALL setup.publish(v_run, ARRAY['bronze']);
        IF p_run_id IS NULL THEN
            PERFORM setup.release_lock();
        END IF;
    END IF;
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_bronze(bigint) IS
    'Bronze layer: validate prerequisites, refresh bronze.load_jobs from the bronze tables, load '
    'every enabled job in order. Alone it is a run of its own; call it in autocommit mode.';
