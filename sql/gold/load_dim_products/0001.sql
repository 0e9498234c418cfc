-- dwh:object function gold.load_dim_products(text, text)
CREATE OR REPLACE FUNCTION gold.load_dim_products(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- One row per current product version, with its ERP category.
    EXECUTE format($sql$
        INSERT INTO %2$I.dim_products
               (product_key, product_id, product_number, product_name, category_id, category,
                subcategory, maintenance, cost, product_line, start_date)
        SELECT k.surrogate_key, p.prd_id, p.prd_key, p.prd_nm, p.cat_id, pc.cat, pc.subcat,
               pc.maintenance, p.prd_cost, p.prd_line, p.prd_start_dt
          FROM %1$I.crm_prd_info p
          JOIN %2$I.surrogate_keys k
            ON k.entity = 'product' AND k.natural_key = p.prd_key
          LEFT JOIN (SELECT DISTINCT ON (id) id, cat, subcat, maintenance
                       FROM %1$I.erp_px_cat_g1v2
                      ORDER BY id, cat COLLATE "C", subcat COLLATE "C") AS pc
            ON pc.id = p.cat_id
         WHERE p.prd_end_dt IS NULL
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.dim_products', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_dim_products(text, text) IS
    'Build <target>.dim_products from <source> (silver) and <target>.surrogate_keys.';
