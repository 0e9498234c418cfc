-- dwh:object function setup.prepare_bronze()
CREATE OR REPLACE FUNCTION setup.prepare_bronze()
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_jobs integer;
BEGIN
    v_jobs := setup.refresh_load_jobs();
    PERFORM setup.prepare_stage('bronze', ARRAY(
        SELECT table_name FROM bronze.load_jobs WHERE enabled ORDER BY load_order));
    RETURN v_jobs;
END;
$$;

COMMENT ON FUNCTION setup.prepare_bronze() IS
    'Refresh bronze.load_jobs and create an empty staged table for every enabled job.';
