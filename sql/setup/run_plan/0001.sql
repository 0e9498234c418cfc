-- dwh:object function setup.run_plan(bigint, text[])
CREATE OR REPLACE FUNCTION setup.run_plan(p_run bigint, p_layers text[])
RETURNS TABLE (layer text, kind text, target text, statement text, needs text[])
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
DECLARE
    v_layer text;
    v_source text;
    v_stage text;
BEGIN
    -- What a run of p_layers does after its bronze loads, in order of priority:
    -- the build steps of silver and gold (a step's statement returns its rows),
    -- then the quality checks (a statement that records the check).  needs
    -- names what a step reads: a step of this plan ('silver.crm_cust_info', the
    -- stage 'gold_stage'), a bronze load ('bronze.crm_sales_details'), or a
    -- whole layer ('bronze'); what no step of the run builds is there already.
    -- Run one by one in this order (setup.orchestrate_layer), every need is met
    -- before its step; dwh runs a step as soon as its needs are done, several
    -- at once.
    FOREACH v_layer IN ARRAY p_layers LOOP
        CONTINUE WHEN v_layer NOT IN ('silver', 'gold');
        -- built from the layer before, as this run sees it (staged in a run of all layers)
        v_source := setup.layer_schema(p_run, CASE v_layer WHEN 'silver' THEN 'bronze'
                                                            ELSE 'silver' END);
        v_stage := v_layer || '_stage';
        RETURN QUERY SELECT v_layer, 'build'::text, v_stage,
                            format('SELECT setup.prepare_stage(%L, %L)', v_layer, '{}'),
                            '{}'::text[];
        IF v_layer = 'silver' THEN
            RETURN QUERY
            SELECT 'silver'::text, 'build'::text, 'silver.' || t,
                   format('SELECT silver.%I(%L, %L)', 'load_' || t, v_source, v_stage),
                   ARRAY[v_stage, 'bronze.' || t]
              FROM unnest(ARRAY['crm_cust_info', 'crm_sales_details', 'erp_cust_az12',
                                'erp_loc_a101', 'crm_prd_info', 'erp_px_cat_g1v2'])
                   WITH ORDINALITY AS u(t, n)
             ORDER BY n;
        ELSE
            RETURN QUERY
            SELECT 'gold'::text, 'build'::text, 'gold.' || v.t,
                   format('SELECT gold.%I(%L, %L)', 'load_' || v.t, v_source, v_stage),
                   v_stage || v.needs
              FROM (VALUES (1, 'surrogate_keys', ARRAY['silver.crm_cust_info', 'silver.crm_prd_info']),
                           (2, 'dim_customers', ARRAY['gold.surrogate_keys', 'silver.crm_cust_info',
                                                      'silver.erp_cust_az12', 'silver.erp_loc_a101']),
                           (3, 'dim_products', ARRAY['gold.surrogate_keys', 'silver.crm_prd_info',
                                                     'silver.erp_px_cat_g1v2']),
                           (4, 'fact_sales', ARRAY['silver.crm_sales_details', 'silver.crm_cust_info',
                                                   'gold.surrogate_keys', 'gold.dim_products']))
                   AS v(n, t, needs)
             ORDER BY v.n;
        END IF;
    END LOOP;
    -- A check reads the tables its query names ({layer}.table); one that names
    -- none waits for its whole layer.
    RETURN QUERY
    SELECT q.layer, 'check'::text, q.check_name,
           format('CALL setup.run_check(%s, %L)', p_run, q.check_name),
           coalesce((SELECT array_agg(DISTINCT m[1] || '.' || CASE WHEN m[2] LIKE '"%'
                                                             THEN replace(btrim(m[2], '"'), '""', '"')
                                                             ELSE lower(m[2]) END)
                       FROM regexp_matches(q.query, '\{(bronze|silver|gold)\}\.("(?:[^"]|"")+"|[A-Za-z_][A-Za-z_0-9$]*)', 'g') AS m),
                    ARRAY[q.layer])
      FROM setup.quality_checks q
     WHERE q.enabled AND q.layer = ANY (p_layers)
     ORDER BY array_position(ARRAY['bronze', 'silver', 'gold'], q.layer), q.check_name;
END;
$$;

COMMENT ON FUNCTION setup.run_plan(bigint, text[]) IS
    'The build steps and quality checks of a run of the given layers, in order of priority, '
    'each with what it needs done before it.';
