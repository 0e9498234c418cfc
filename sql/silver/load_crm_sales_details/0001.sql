-- dwh:object function silver.load_crm_sales_details(text, text)
CREATE OR REPLACE FUNCTION silver.load_crm_sales_details(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- Dates are 8-digit YYYYMMDD or empty; sales is quantity x |price| unless
    -- it is positive and consistent (or the price is unknown); a missing or
    -- non-positive price is the delivered sales / quantity.
    EXECUTE format($sql$
        INSERT INTO %2$I.crm_sales_details
               (sls_ord_num, sls_prd_key, sls_cust_id, sls_order_dt, sls_ship_dt, sls_due_dt,
                sls_sales, sls_quantity, sls_price)
        SELECT s.sls_ord_num, s.sls_prd_key, s.sls_cust_id,
               s.sls_order_dt, s.sls_ship_dt, s.sls_due_dt,
               CASE WHEN s.sls_sales IS NULL OR s.sls_sales <= 0
                         OR s.sls_sales <> s.sls_quantity * abs(s.sls_price)
                    THEN s.sls_quantity * abs(s.sls_price)
                    ELSE s.sls_sales END,
               s.sls_quantity,
               CASE WHEN s.sls_price IS NULL OR s.sls_price <= 0
                    THEN s.sls_sales / nullif(s.sls_quantity, 0)
                    ELSE s.sls_price END
          FROM (SELECT b.sls_ord_num, b.sls_prd_key, setup.parse_int(b.sls_cust_id) AS sls_cust_id,
                       setup.parse_yyyymmdd(b.sls_order_dt) AS sls_order_dt,
                       setup.parse_yyyymmdd(b.sls_ship_dt) AS sls_ship_dt,
                       setup.parse_yyyymmdd(b.sls_due_dt) AS sls_due_dt,
                       setup.parse_int(b.sls_sales) AS sls_sales,
                       setup.parse_int(b.sls_quantity) AS sls_quantity,
                       setup.parse_int(b.sls_price) AS sls_price
                  FROM %1$I.crm_sales_details b) AS s
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.crm_sales_details', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_crm_sales_details(text, text) IS
    'Build <target>.crm_sales_details from <source>.crm_sales_details (bronze); returns the rows.';
