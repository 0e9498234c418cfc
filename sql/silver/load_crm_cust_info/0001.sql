-- dwh:object function silver.load_crm_cust_info(text, text)
CREATE OR REPLACE FUNCTION silver.load_crm_cust_info(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- One row per customer id (rows without one dropped), the latest create
    -- date winning; names trimmed; codes mapped.
    EXECUTE format($sql$
        INSERT INTO %2$I.crm_cust_info
               (cst_id, cst_key, cst_firstname, cst_lastname, cst_marital_status, cst_gndr,
                cst_create_date)
        SELECT DISTINCT ON (c.cst_id)
               c.cst_id, c.cst_key, btrim(c.cst_firstname), btrim(c.cst_lastname),
               CASE upper(btrim(c.cst_marital_status)) WHEN 'S' THEN 'Single'
                    WHEN 'M' THEN 'Married' ELSE 'n/a' END,
               CASE upper(btrim(c.cst_gndr)) WHEN 'F' THEN 'Female'
                    WHEN 'M' THEN 'Male' ELSE 'n/a' END,
               c.cst_create_date
          FROM (SELECT setup.parse_int(b.cst_id) AS cst_id, b.cst_key, b.cst_firstname,
                       b.cst_lastname, b.cst_marital_status, b.cst_gndr,
                       setup.parse_iso_date(b.cst_create_date) AS cst_create_date
                  FROM %1$I.crm_cust_info b) AS c
         WHERE c.cst_id IS NOT NULL
         ORDER BY c.cst_id, c.cst_create_date DESC NULLS LAST,
                  c.cst_key COLLATE "C", c.cst_firstname COLLATE "C", c.cst_lastname COLLATE "C",
                  c.cst_marital_status COLLATE "C", c.cst_gndr COLLATE "C"
    $sql$, p_source, p_target);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('ANALYZE %I.crm_cust_info', p_target);
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION silver.load_crm_cust_info(text, text) IS
    'Build <target>.crm_cust_info from <source>.crm_cust_info (bronze); returns the rows.';
