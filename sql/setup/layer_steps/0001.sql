-- dwh:object function setup.layer_steps(bigint, text)
CREATE OR REPLACE FUNCTION setup.layer_steps(p_run bigint, p_layer text)
RETURNS TABLE (wave integer, target text, statement text)
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
DECLARE
    -- Built from the layer before, as this run sees it (staged in a run of all layers).
    v_source text := setup.layer_schema(p_run, CASE p_layer WHEN 'silver' THEN 'bronze'
                                                           WHEN 'gold' THEN 'silver' END);
    v_stage text := p_layer || '_stage';
BEGIN
    -- The build steps of a layer, in waves: the steps of one wave depend only on
    -- earlier waves, so they may run at once (dwh runs them on several
    -- connections; setup.orchestrate_silver/_gold run them one by one).
    IF p_layer NOT IN ('silver', 'gold') THEN
        RAISE EXCEPTION 'no build steps for layer %', p_layer;
    END IF;
    RETURN QUERY SELECT 1, v_stage, format('SELECT setup.prepare_stage(%L, %L)', p_layer, '{}');
    IF p_layer = 'silver' THEN
        RETURN QUERY
        SELECT 2, 'silver.' || t, format('SELECT silver.%I(%L, %L)', 'load_' || t, v_source, v_stage)
          FROM unnest(ARRAY['crm_sales_details', 'crm_cust_info', 'erp_cust_az12', 'erp_loc_a101',
                            'crm_prd_info', 'erp_px_cat_g1v2']) WITH ORDINALITY AS u(t, n)
         ORDER BY n;
    ELSE
        RETURN QUERY
        SELECT w, 'gold.' || t, format('SELECT gold.%I(%L, %L)', 'load_' || t, v_source, v_stage)
          FROM (VALUES (2, 'surrogate_keys', 1), (3, 'dim_customers', 2),
                       (3, 'dim_products', 3), (4, 'fact_sales', 4)) AS v(w, t, n)
         ORDER BY n;
    END IF;
END;
$$;

COMMENT ON FUNCTION setup.layer_steps(bigint, text) IS
    'The build steps of silver or gold for a run, in waves of steps that may run at once.';
