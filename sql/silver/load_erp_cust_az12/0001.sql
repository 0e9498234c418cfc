-- dwh:object function silver.load_erp_cust_az12(text, text)
CREATE OR REPLACE FUNCTION silver.load_erp_cust_az12(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    EXECUTE format($sql$
        INSERT INTO %2$I.erp_cust_az12 (cid, bdate, gen)
        SELECT CASE WHEN b.cid LIKE 'NAS%%' THEN substr(b.cid, 4) ELSE b.cid END,
               CASE WHEN setup.parse_iso_date(b.bdate) > current_date THEN NULL
                    ELSE setup.parse_iso_date(b.bdate) END,
               CASE WHEN upper(btrim(b.gen)) IN ('F', 'FEMALE') THEN 'Female'
                    WHEN upper(btrim(b.gen)) IN ('M', 'MALE') THEN 'Male'
                    ELSE 'n/a' END
          FROM %1$I.erp_cust_az12 b
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.erp_cust_az12', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_erp_cust_az12(text, text) IS
    'Build <target>.erp_cust_az12 from <source>.erp_cust_az12 (bronze); returns the rows.';
