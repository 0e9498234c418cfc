-- dwh:object function gold.load_surrogate_keys(text, text)
CREATE OR REPLACE FUNCTION gold.load_surrogate_keys(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- Stable surrogate keys: every key ever given is kept (from the published
    -- map); a new customer id or product number gets the next key, in a
    -- deterministic order.
    EXECUTE format($sql$
        INSERT INTO %2$I.surrogate_keys (entity, natural_key, surrogate_key)
        SELECT entity, natural_key, surrogate_key FROM gold.surrogate_keys
    $sql$, p_source, p_target);
    EXECUTE format($sql$
        INSERT INTO %2$I.surrogate_keys (entity, natural_key, surrogate_key)
        SELECT 'customer', n.natural_key,
               coalesce((SELECT max(surrogate_key) FROM %2$I.surrogate_keys
                          WHERE entity = 'customer'), 0)
               + row_number() OVER (ORDER BY length(n.natural_key), n.natural_key COLLATE "C")
          FROM (SELECT DISTINCT c.cst_id::text AS natural_key FROM %1$I.crm_cust_info c
                 WHERE c.cst_id IS NOT NULL) AS n
         WHERE NOT EXISTS (SELECT 1 FROM %2$I.surrogate_keys k
                            WHERE k.entity = 'customer' AND k.natural_key = n.natural_key)
    $sql$, p_source, p_target);
    EXECUTE format($sql$
        INSERT INTO %2$I.surrogate_keys (entity, natural_key, surrogate_key)
        SELECT 'product', n.natural_key,
               coalesce((SELECT max(surrogate_key) FROM %2$I.surrogate_keys
                          WHERE entity = 'product'), 0)
               + row_number() OVER (ORDER BY n.natural_key COLLATE "C")
          FROM (SELECT DISTINCT p.prd_key AS natural_key FROM %1$I.crm_prd_info p
                 WHERE p.prd_end_dt IS NULL AND p.prd_key IS NOT NULL) AS n
         WHERE NOT EXISTS (SELECT 1 FROM %2$I.surrogate_keys k
                            WHERE k.entity = 'product' AND k.natural_key = n.natural_key)
    $sql$, p_source, p_target);
    EXECUTE format('SELECT count(*) FROM %I.surrogate_keys', p_target) INTO v_rows;
    EXECUTE format('ANALYZE %I.surrogate_keys', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_surrogate_keys(text, text) IS
    'Build <target>.surrogate_keys: the published keys plus the next keys for new customers '
    'and products of <source> (silver).';
