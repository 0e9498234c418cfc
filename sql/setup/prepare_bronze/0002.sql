-- dwh:object function setup.prepare_bronze()
CREATE OR REPLACE FUNCTION setup.prepare_bronze()
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_jobs integer;
    v_table text;
BEGIN
    v_jobs := setup.refresh_load_jobs();
    PERFORM setup.prepare_stage('bronze', ARRAY(
        SELECT table_name FROM bronze.load_jobs ORDER BY load_order));
    -- A disabled job keeps what it last loaded: its staged table starts as a
    -- copy of the published one, so silver still finds it in bronze_stage.
    FOR v_table IN SELECT table_name FROM bronze.load_jobs WHERE NOT enabled LOOP
        EXECUTE format('INSERT INTO bronze_stage.%I SELECT * FROM bronze.%I', v_table, v_table);
    END LOOP;
    RETURN v_jobs;
END;
$$;

COMMENT ON FUNCTION setup.prepare_bronze() IS
    'Refresh bronze.load_jobs and stage a table for every job: empty for an enabled job, '
    'a copy of the published one for a disabled job.';
