-- dwh:object function silver.load_crm_sales_details(text, text)
CREATE OR REPLACE FUNCTION silver.load_crm_sales_details(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- Dates are 8-digit YYYYMMDD or empty; sales is quantity x |price| unless
    -- it is positive and consistent (or the price is unknown); a missing or
    -- non-positive price is the delivered sales / quantity.
    -- Fast path: dates through setup.calendar (a hash join, not a parse per
    -- row; a date outside it falls back to setup.parse_yyyymmdd); the four
    -- numbers of a line tested at once (one search for a non-digit in the
    -- four together, and their lengths), each value parsed alone only on a
    -- line that fails it; every value parsed once (OFFSET 0 keeps the planner
    -- from repeating the parse in each CASE that uses it); CREATE TABLE AS
    -- (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.crm_sales_details AS
        SELECT s.sls_ord_num, s.sls_prd_key, s.sls_cust_id,
               s.sls_order_dt, s.sls_ship_dt, s.sls_due_dt,
               CASE WHEN s.sales IS NULL OR s.sales <= 0 OR s.sales <> s.qty * abs(s.price)
                    THEN s.qty * abs(s.price)
                    ELSE s.sales END AS sls_sales,
               s.qty AS sls_quantity,
               CASE WHEN s.price IS NULL OR s.price <= 0
                    THEN s.sales / nullif(s.qty, 0)
                    ELSE s.price END AS sls_price,
               now() AS dwh_loaded_at
          FROM (SELECT b.sls_ord_num, b.sls_prd_key,
                       CASE WHEN b.digits THEN b.sls_cust_id::integer
                            ELSE setup.parse_int(b.sls_cust_id) END AS sls_cust_id,
                       coalesce(o.day, CASE WHEN length(b.sls_order_dt) = 8
                                            THEN setup.parse_yyyymmdd(b.sls_order_dt) END)
                           AS sls_order_dt,
                       coalesce(sh.day, CASE WHEN length(b.sls_ship_dt) = 8
                                             THEN setup.parse_yyyymmdd(b.sls_ship_dt) END)
                           AS sls_ship_dt,
                       coalesce(du.day, CASE WHEN length(b.sls_due_dt) = 8
                                             THEN setup.parse_yyyymmdd(b.sls_due_dt) END)
                           AS sls_due_dt,
                       CASE WHEN b.digits THEN b.sls_sales::integer
                            ELSE setup.parse_int(b.sls_sales) END AS sales,
                       CASE WHEN b.digits THEN b.sls_quantity::integer
                            ELSE setup.parse_int(b.sls_quantity) END AS qty,
                       CASE WHEN b.digits THEN b.sls_price::integer
                            ELSE setup.parse_int(b.sls_price) END AS price
                  FROM (SELECT l.*,
                               -- NULL (so not the fast path) when a value is missing
                               (l.sls_cust_id || l.sls_sales || l.sls_quantity || l.sls_price)
                                   !~ '[^0-9]'
                               AND octet_length(l.sls_cust_id) BETWEEN 1 AND 9
                               AND octet_length(l.sls_sales) BETWEEN 1 AND 9
                               AND octet_length(l.sls_quantity) BETWEEN 1 AND 9
                               AND octet_length(l.sls_price) BETWEEN 1 AND 9 AS digits
                          FROM %1$I.crm_sales_details l OFFSET 0) AS b
                  LEFT JOIN setup.calendar o ON o.yyyymmdd = b.sls_order_dt
                  LEFT JOIN setup.calendar sh ON sh.yyyymmdd = b.sls_ship_dt
                  LEFT JOIN setup.calendar du ON du.yyyymmdd = b.sls_due_dt
                OFFSET 0) AS s
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('silver', 'crm_sales_details');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_crm_sales_details(text, text) IS
    'Build <target>.crm_sales_details from <source>.crm_sales_details (bronze); returns the rows.';
