-- dwh:object function gold.load_fact_sales(text, text)
CREATE OR REPLACE FUNCTION gold.load_fact_sales(p_source text, p_target text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_rows bigint;
    v_key record;
BEGIN
    PERFORM setup.tune_step();
    -- Each sales line finds its customer's key without a join when the
    -- customers' ids have no gap: as its id plus one same number when every
    -- key is (a first load, and later loads whose new customers come with
    -- higher ids), else by subscript in the keys by id, built under
    -- run.work_mem (gold.customer_key_lookup).
    v_key := gold.customer_key_lookup(p_target, 'sd.sls_cust_id');
    -- Otherwise the hash of every customer's key (1.85 million at scale 100,
    -- about 90 MB) is larger than the CPU's cache, and each of the 6 million
    -- sales lines probes it at random.  With run.join_work_mem (4MB)
    -- PostgreSQL hashes it in batches that fit the cache, each probed by its
    -- share of the lines (written to a temporary file and read back): at
    -- scale 100 its query took 15.7-16.9 s instead of 19.5-19.6 s, serial.
    -- run.join_work_mem is the work_mem of the facts' query either way.
    PERFORM setup.apply_setting('run.join_work_mem', 'work_mem',
                                'set it to an amount of memory from 64kB up, such as 4MB '
                                '(the default), or to NULL to use run.work_mem');
    -- One row per silver sales line; a product or customer that does not
    -- resolve keeps an empty key (the quality checks report it).
    -- The customer key is the one gold.load_dim_customers gives the silver
    -- customer of that id: both read <target>.customer_keys__work (written
    -- by gold.load_surrogate_keys, one row per silver customer), so the facts
    -- are built while the dimension is, keyed on the integer id.
    -- CREATE TABLE AS (see setup.finish_stage).
    EXECUTE format($sql$
        CREATE TABLE %2$I.fact_sales AS
        SELECT sd.sls_ord_num AS order_number, pr.product_key, %3$s AS customer_key,
               sd.sls_order_dt AS order_date, sd.sls_ship_dt AS shipping_date,
               sd.sls_due_dt AS due_date, sd.sls_sales AS sales_amount,
               sd.sls_quantity AS quantity, sd.sls_price AS price
          FROM %1$I.crm_sales_details sd
          LEFT JOIN %2$I.dim_products pr ON pr.product_number = sd.sls_prd_key
          %4$s
    $sql$, p_source, p_target, v_key.key_sql, v_key.join_sql)
    USING v_key.lo, v_key.hi, v_key.keys, v_key.shift;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM setup.finish_stage('gold', 'fact_sales');
    RETURN v_rows;
END;
$$;

COMMENT ON FUNCTION gold.load_fact_sales(text, text) IS
    'Build <target>.fact_sales from <source>.crm_sales_details, the key of each customer '
    '(<target>.customer_keys__work: its id shifted, by id, or joined) and '
    '<target>.dim_products; its query runs with run.join_work_mem.';
