-- dwh:object function gold.load_surrogate_keys(text, text)
CREATE OR REPLACE FUNCTION gold.load_surrogate_keys(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- Stable surrogate keys: every key ever given stays in gold.surrogate_keys;
    -- a new customer id or product number gets the next key, in a
    -- deterministic order.  Only the new keys are staged, in
    -- <target>.surrogate_keys__append: setup.publish appends them (the map is
    -- never rewritten, whatever its size).
    EXECUTE format($sql$
        CREATE TABLE %2$I.surrogate_keys__append AS
        WITH top AS (
            SELECT entity, max(surrogate_key) AS top FROM gold.surrogate_keys GROUP BY entity
        ), arrived AS (
            SELECT 'customer'::text AS entity, n.natural_key,
                   row_number() OVER (ORDER BY length(n.natural_key), n.natural_key COLLATE "C")
                       AS n
              FROM (SELECT DISTINCT c.cst_id::text AS natural_key FROM %1$I.crm_cust_info c
                     WHERE c.cst_id IS NOT NULL) AS n
             WHERE NOT EXISTS (SELECT 1 FROM gold.surrogate_keys k
                                WHERE k.entity = 'customer' AND k.natural_key = n.natural_key)
            UNION ALL
            SELECT 'product'::text, n.natural_key,
                   row_number() OVER (ORDER BY n.natural_key COLLATE "C")
              FROM (SELECT DISTINCT p.prd_key AS natural_key FROM %1$I.crm_prd_info p
                     WHERE p.prd_end_dt IS NULL AND p.prd_key IS NOT NULL) AS n
             WHERE NOT EXISTS (SELECT 1 FROM gold.surrogate_keys k
                                WHERE k.entity = 'product' AND k.natural_key = n.natural_key)
        )
        SELECT a.entity, a.natural_key, (coalesce(t.top, 0) + a.n)::integer AS surrogate_key
          FROM arrived a LEFT JOIN top t ON t.entity = a.entity
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.surrogate_keys__append', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_surrogate_keys(text, text) IS
    'Stage the keys of the customers and products of <source> (silver) that have none yet, '
    'in <target>.surrogate_keys__append; returns how many.';
