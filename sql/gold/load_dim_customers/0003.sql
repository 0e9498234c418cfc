-- dwh:object function gold.load_dim_customers(text, text)
CREATE OR REPLACE FUNCTION gold.load_dim_customers(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- One row per silver customer; country and birth date from the ERP;
    -- gender from the CRM unless it is n/a.  CREATE TABLE AS, then the
    -- primary key (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.dim_customers AS
        SELECT coalesce(k.surrogate_key, kn.surrogate_key) AS customer_key, ci.cst_id AS customer_id,
               ci.cst_key AS customer_number, ci.cst_firstname AS first_name,
               ci.cst_lastname AS last_name, la.cntry AS country,
               ci.cst_marital_status AS marital_status,
               CASE WHEN ci.cst_gndr <> 'n/a' THEN ci.cst_gndr ELSE coalesce(ca.gen, 'n/a') END
                   AS gender,
               ca.bdate AS birthdate, ci.cst_create_date AS create_date
          FROM %1$I.crm_cust_info ci
          -- the key: published, or staged by this run (two hash joins, no sort)
          LEFT JOIN gold.surrogate_keys k
            ON k.entity = 'customer' AND k.natural_key = ci.cst_id::text
          LEFT JOIN %2$I.%3$I kn
            ON kn.entity = 'customer' AND kn.natural_key = ci.cst_id::text
          LEFT JOIN (SELECT DISTINCT ON (cid COLLATE "C") cid, bdate, gen FROM %1$I.erp_cust_az12
                      ORDER BY cid COLLATE "C", bdate NULLS LAST, gen COLLATE "C") AS ca
            ON ca.cid = ci.cst_key
          LEFT JOIN (SELECT DISTINCT ON (cid COLLATE "C") cid, cntry FROM %1$I.erp_loc_a101
                      ORDER BY cid COLLATE "C", cntry COLLATE "C") AS la
            ON la.cid = ci.cst_key
    $sql$, p_source, p_target,
       -- the keys this run staged: the whole map on a first load, else the new ones
       CASE WHEN to_regclass(format('%I.surrogate_keys', p_target)) IS NOT NULL
            THEN 'surrogate_keys' ELSE 'surrogate_keys__append' END);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('gold', 'dim_customers');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_dim_customers(text, text) IS
    'Build <target>.dim_customers from <source> (silver) and the surrogate keys (published and staged).';
