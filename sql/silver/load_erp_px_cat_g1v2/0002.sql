-- dwh:object function silver.load_erp_px_cat_g1v2(text, text)
CREATE OR REPLACE FUNCTION silver.load_erp_px_cat_g1v2(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- As delivered; built with CREATE TABLE AS (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.erp_px_cat_g1v2 AS
        SELECT b.id, b.cat, b.subcat, b.maintenance, now() AS dwh_loaded_at
          FROM %1$I.erp_px_cat_g1v2 b
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('silver', 'erp_px_cat_g1v2');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_erp_px_cat_g1v2(text, text) IS
    'Build <target>.erp_px_cat_g1v2 from <source>.erp_px_cat_g1v2 (bronze), as delivered.';
