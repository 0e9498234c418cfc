-- dwh:object function gold.load_surrogate_keys(text, text)
CREATE OR REPLACE FUNCTION gold.load_surrogate_keys(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
    -- The first load stages the whole map (indexed before the publish, which
    -- then only swaps it in); later loads stage only the new keys, which the
    -- publish appends (the map is never rewritten, whatever its size).
    v_first boolean := NOT EXISTS (SELECT 1 FROM gold.surrogate_keys);
    v_staged text := CASE WHEN v_first THEN 'surrogate_keys' ELSE 'surrogate_keys__append' END;
BEGIN
    PERFORM setup.tune_step();
    -- Stable surrogate keys: every key ever given stays in gold.surrogate_keys;
    -- a new customer id or product number gets the next key, in a
    -- deterministic order (customers by id, products by number).
    EXECUTE format($sql$
        CREATE TABLE %2$I.%3$I AS
        WITH top AS (
            SELECT entity, max(surrogate_key) AS top FROM gold.surrogate_keys GROUP BY entity
        ), arrived AS (
            SELECT 'customer'::text AS entity, n.cst_id::text AS natural_key,
                   row_number() OVER (ORDER BY n.cst_id) AS n
              -- sorted, then unique: the sort serves the numbering too (a hash
              -- of 1.85 million ids then a sort cost twice as much)
              FROM (SELECT DISTINCT ON (c.cst_id) c.cst_id FROM %1$I.crm_cust_info c
                     WHERE c.cst_id IS NOT NULL ORDER BY c.cst_id) AS n
             WHERE NOT EXISTS (SELECT 1 FROM gold.surrogate_keys k
                                WHERE k.entity = 'customer' AND k.natural_key = n.cst_id::text)
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
    $sql$, p_source, p_target, v_staged);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_first THEN
        PERFORM setup.finish_stage('gold', 'surrogate_keys');
    ELSE
        EXECUTE format('ANALYZE %I.surrogate_keys__append', p_target);
    END IF;
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_surrogate_keys(text, text) IS
    'Stage the keys of the customers and products of <source> (silver) that have none yet: '
    'the whole map on a first load (<target>.surrogate_keys, swapped in), else only the new '
    'keys (<target>.surrogate_keys__append, appended); returns how many.';
