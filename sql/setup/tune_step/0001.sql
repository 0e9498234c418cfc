-- dwh:object function setup.tune_step()
CREATE OR REPLACE FUNCTION setup.tune_step()
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- Memory for the sorts, hashes and index builds of one step, from
    -- setup.etl_config (run.work_mem, run.maintenance_work_mem); for this
    -- step's transaction only.  The server defaults (4MB) spill millions of
    -- rows to disk.
    PERFORM set_config('work_mem', c.value, true)
       FROM setup.etl_config c WHERE c.key = 'run.work_mem' AND c.value IS NOT NULL;
    PERFORM set_config('maintenance_work_mem', c.value, true)
       FROM setup.etl_config c WHERE c.key = 'run.maintenance_work_mem' AND c.value IS NOT NULL;
END;
$$;

COMMENT ON FUNCTION setup.tune_step() IS
    'Set work_mem and maintenance_work_mem for the current step from setup.etl_config.';
