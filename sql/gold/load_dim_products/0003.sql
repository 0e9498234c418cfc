-- dwh:object function gold.load_dim_products(text, text)
CREATE OR REPLACE FUNCTION gold.load_dim_products(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- One row per current product version, with its ERP category.
    -- CREATE TABLE AS, then the primary key (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.dim_products AS
        SELECT coalesce(k.surrogate_key, kn.surrogate_key) AS product_key, p.prd_id AS product_id,
               p.prd_key AS product_number, p.prd_nm AS product_name, p.cat_id AS category_id,
               pc.cat AS category, pc.subcat AS subcategory, pc.maintenance,
               p.prd_cost AS cost, p.prd_line AS product_line, p.prd_start_dt AS start_date
          FROM %1$I.crm_prd_info p
          -- the key: published, or staged by this run (two hash joins, no sort)
          LEFT JOIN gold.surrogate_keys k
            ON k.entity = 'product' AND k.natural_key = p.prd_key
          LEFT JOIN %2$I.%3$I kn
            ON kn.entity = 'product' AND kn.natural_key = p.prd_key
          LEFT JOIN (SELECT DISTINCT ON (id) id, cat, subcat, maintenance
                       FROM %1$I.erp_px_cat_g1v2
                      ORDER BY id, cat COLLATE "C", subcat COLLATE "C") AS pc
            ON pc.id = p.cat_id
         WHERE p.prd_end_dt IS NULL
    $sql$, p_source, p_target,
       -- the keys this run staged: the whole map on a first load, else the new ones
       CASE WHEN to_regclass(format('%I.surrogate_keys', p_target)) IS NOT NULL
            THEN 'surrogate_keys' ELSE 'surrogate_keys__append' END);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('gold', 'dim_products');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_dim_products(text, text) IS
    'Build <target>.dim_products from <source> (silver) and the surrogate keys (published and staged).';
