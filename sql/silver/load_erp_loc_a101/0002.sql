-- dwh:object function silver.load_erp_loc_a101(text, text)
CREATE OR REPLACE FUNCTION silver.load_erp_loc_a101(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- Built with CREATE TABLE AS (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.erp_loc_a101 AS
        SELECT replace(l.cid, '-', '') AS cid,
               CASE WHEN l.cntry = 'DE' THEN 'Germany'
                    WHEN l.cntry IN ('US', 'USA') THEN 'United States'
                    WHEN l.cntry IS NULL OR l.cntry = '' THEN 'n/a'
                    ELSE l.cntry END AS cntry,
               now() AS dwh_loaded_at
          FROM (SELECT b.cid, btrim(b.cntry) AS cntry FROM %1$I.erp_loc_a101 b OFFSET 0) AS l
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('silver', 'erp_loc_a101');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_erp_loc_a101(text, text) IS
    'Build <target>.erp_loc_a101 from <source>.erp_loc_a101 (bronze); returns the rows.';
