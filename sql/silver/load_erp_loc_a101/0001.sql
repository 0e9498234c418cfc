-- dwh:object function silver.load_erp_loc_a101(text, text)
CREATE OR REPLACE FUNCTION silver.load_erp_loc_a101(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    EXECUTE format($sql$
        INSERT INTO %2$I.erp_loc_a101 (cid, cntry)
        SELECT replace(b.cid, '-', ''),
               CASE WHEN btrim(b.cntry) = 'DE' THEN 'Germany'
                    WHEN btrim(b.cntry) IN ('US', 'USA') THEN 'United States'
                    WHEN b.cntry IS NULL OR btrim(b.cntry) = '' THEN 'n/a'
                    ELSE btrim(b.cntry) END
          FROM %1$I.erp_loc_a101 b
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.erp_loc_a101', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_erp_loc_a101(text, text) IS
    'Build <target>.erp_loc_a101 from <source>.erp_loc_a101 (bronze); returns the rows.';
