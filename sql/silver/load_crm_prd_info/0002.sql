-- dwh:object function silver.load_crm_prd_info(text, text)
CREATE OR REPLACE FUNCTION silver.load_crm_prd_info(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM setup.tune_step();
    -- cat_id and prd_key split from the delivered key; missing cost is 0; the
    -- end date is the day before the next version's start (the delivered one
    -- is not trusted).  Built with CREATE TABLE AS (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.crm_prd_info AS
        SELECT p.prd_id, p.cat_id, p.prd_key, p.prd_nm, p.prd_cost, p.prd_line, p.prd_start_dt,
               CASE WHEN p.prd_start_dt IS NOT NULL THEN
                   lead(p.prd_start_dt) OVER (PARTITION BY p.prd_key
                                              ORDER BY p.prd_start_dt NULLS LAST, p.prd_id) - 1
               END AS prd_end_dt,
               now() AS dwh_loaded_at
          FROM (SELECT setup.parse_int(b.prd_id) AS prd_id,
                       replace(substr(b.prd_key, 1, 5), '-', '_') AS cat_id,
                       substr(b.prd_key, 7) AS prd_key,
                       b.prd_nm,
                       coalesce(setup.parse_int(b.prd_cost), 0) AS prd_cost,
                       CASE upper(btrim(b.prd_line)) WHEN 'M' THEN 'Mountain' WHEN 'R' THEN 'Road'
                            WHEN 'S' THEN 'Other Sales' WHEN 'T' THEN 'Touring' ELSE 'n/a' END
                           AS prd_line,
                       coalesce(d.day, CASE WHEN length(b.prd_start_dt) = 10
                                            THEN setup.parse_iso_date(b.prd_start_dt) END)
                           AS prd_start_dt
                  FROM %1$I.crm_prd_info b
                  LEFT JOIN setup.calendar d ON d.iso = b.prd_start_dt
                OFFSET 0) AS p
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('silver', 'crm_prd_info');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_crm_prd_info(text, text) IS
    'Build <target>.crm_prd_info from <source>.crm_prd_info (bronze); returns the rows.';
