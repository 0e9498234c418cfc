-- dwh:object function setup.tune_step()
CREATE OR REPLACE FUNCTION setup.tune_step()
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- Memory for the sorts, hashes and index builds of one step, from
    -- setup.etl_config (run.work_mem, run.maintenance_work_mem); for this
    -- step's transaction only.  The server defaults (4MB) spill millions of
    -- rows to disk.  A value PostgreSQL refuses fails the step naming the
    -- setting (setup.apply_setting).
    PERFORM setup.apply_setting('run.work_mem', 'work_mem',
                                'set it to an amount of memory from 64kB up, such as 256MB '
                                '(the default), or to NULL to keep the server''s work_mem');
    PERFORM setup.apply_setting('run.maintenance_work_mem', 'maintenance_work_mem',
                                'set it to an amount of memory from 1MB up, such as 256MB '
                                '(the default), or to NULL to keep the server''s '
                                'maintenance_work_mem');
END;
$$;

COMMENT ON FUNCTION setup.tune_step() IS
    'Set work_mem and maintenance_work_mem for the current step from setup.etl_config; '
    'a refused value is an error naming the setting.';
