-- dwh:object procedure setup.orchestrate_silver(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_silver(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- The same for silver and gold: setup.orchestrate_layer.
    CALL setup.orchestrate_layer('silver', p_run_id);
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_silver(bigint) IS
    'Silver layer: build every silver table from bronze (staged in a run of all '
    'layers). Alone it is a run of its own: checked and published. Call it in autocommit mode.';
