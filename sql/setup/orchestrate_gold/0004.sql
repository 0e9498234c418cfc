-- dwh:object procedure setup.orchestrate_gold(bigint)
CREATE OR REPLACE PROCEDURE setup.orchestrate_gold(p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- The same for silver and gold: setup.orchestrate_layer.
    CALL setup.orchestrate_layer('gold', p_run_id);
END;
$$;

COMMENT ON PROCEDURE setup.orchestrate_gold(bigint) IS
    'Gold layer: build the surrogate keys, dimensions and facts from silver (staged in a run of all '
    'layers). Alone it is a run of its own: checked and published. Call it in autocommit mode.';
