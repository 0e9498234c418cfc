-- dwh:object function setup.layer_schema(bigint, text)
CREATE OR REPLACE FUNCTION setup.layer_schema(p_run bigint, p_layer text)
RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    -- The schema holding a layer's data as this run sees it: the staged tables
    -- when the run builds that layer, else the published ones.
    SELECT CASE WHEN r.layers IN ('all', p_layer) THEN p_layer || '_stage' ELSE p_layer END
      FROM setup.etl_runs r WHERE r.run_id = p_run
$$;

COMMENT ON FUNCTION setup.layer_schema(bigint, text) IS
    'bronze_stage/silver_stage/gold_stage when the run builds that layer, else bronze/silver/gold.';
