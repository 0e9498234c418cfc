-- dwh:object function gold.load_dim_customers(text, text)
CREATE OR REPLACE FUNCTION gold.load_dim_customers(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- One row per silver customer; country and birth date from the ERP;
    -- gender from the CRM unless it is n/a.
    EXECUTE format($sql$
        INSERT INTO %2$I.dim_customers
               (customer_key, customer_id, customer_number, first_name, last_name, country,
                marital_status, gender, birthdate, create_date)
        SELECT k.surrogate_key, ci.cst_id, ci.cst_key, ci.cst_firstname, ci.cst_lastname,
               la.cntry, ci.cst_marital_status,
               CASE WHEN ci.cst_gndr <> 'n/a' THEN ci.cst_gndr ELSE coalesce(ca.gen, 'n/a') END,
               ca.bdate, ci.cst_create_date
          FROM %1$I.crm_cust_info ci
          JOIN %2$I.surrogate_keys k
            ON k.entity = 'customer' AND k.natural_key = ci.cst_id::text
          LEFT JOIN (SELECT DISTINCT ON (cid) cid, bdate, gen FROM %1$I.erp_cust_az12
                      ORDER BY cid, bdate NULLS LAST, gen COLLATE "C") AS ca
            ON ca.cid = ci.cst_key
          LEFT JOIN (SELECT DISTINCT ON (cid) cid, cntry FROM %1$I.erp_loc_a101
                      ORDER BY cid, cntry COLLATE "C") AS la
            ON la.cid = ci.cst_key
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.dim_customers', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_dim_customers(text, text) IS
    'Build <target>.dim_customers from <source> (silver) and <target>.surrogate_keys.';
