-- dwh:object function silver.load_crm_prd_info(text, text)
CREATE OR REPLACE FUNCTION silver.load_crm_prd_info(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- cat_id and prd_key split from the delivered key; missing cost is 0; the
    -- end date is the day before the next version's start (the delivered one
    -- is not trusted).
    EXECUTE format($sql$
        INSERT INTO %2$I.crm_prd_info
               (prd_id, cat_id, prd_key, prd_nm, prd_cost, prd_line, prd_start_dt, prd_end_dt)
        SELECT p.prd_id, p.cat_id, p.prd_key, p.prd_nm, p.prd_cost, p.prd_line, p.prd_start_dt,
               CASE WHEN p.prd_start_dt IS NOT NULL THEN
                   lead(p.prd_start_dt) OVER (PARTITION BY p.prd_key
                                              ORDER BY p.prd_start_dt NULLS LAST, p.prd_id) - 1
               END
          FROM (SELECT setup.parse_int(b.prd_id) AS prd_id,
                       replace(substr(b.prd_key, 1, 5), '-', '_') AS cat_id,
                       substr(b.prd_key, 7) AS prd_key,
                       b.prd_nm,
                       coalesce(setup.parse_int(b.prd_cost), 0) AS prd_cost,
                       CASE upper(btrim(b.prd_line)) WHEN 'M' THEN 'Mountain' WHEN 'R' THEN 'Road'
                            WHEN 'S' THEN 'Other Sales' WHEN 'T' THEN 'Touring' ELSE 'n/a' END
                           AS prd_line,
                       setup.parse_iso_date(b.prd_start_dt) AS prd_start_dt
                  FROM %1$I.crm_prd_info b) AS p
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.crm_prd_info', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_crm_prd_info(text, text) IS
    'Build <target>.crm_prd_info from <source>.crm_prd_info (bronze); returns the rows.';
