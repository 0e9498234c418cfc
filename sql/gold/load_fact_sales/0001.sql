-- dwh:object function gold.load_fact_sales(text, text)
CREATE OR REPLACE FUNCTION gold.load_fact_sales(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- One row per silver sales line; a product or customer that does not
    -- resolve keeps an empty key (the quality checks report it).
    EXECUTE format($sql$
        INSERT INTO %2$I.fact_sales
               (order_number, product_key, customer_key, order_date, shipping_date, due_date,
                sales_amount, quantity, price)
        SELECT sd.sls_ord_num, pr.product_key, cu.customer_key, sd.sls_order_dt, sd.sls_ship_dt,
               sd.sls_due_dt, sd.sls_sales, sd.sls_quantity, sd.sls_price
          FROM %1$I.crm_sales_details sd
          LEFT JOIN %2$I.dim_products pr ON pr.product_number = sd.sls_prd_key
          LEFT JOIN %2$I.dim_customers cu ON cu.customer_id = sd.sls_cust_id
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.fact_sales', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_fact_sales(text, text) IS
    'Build <target>.fact_sales from <source>.crm_sales_details and the <target> dimensions.';
