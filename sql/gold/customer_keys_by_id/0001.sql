-- dwh:object function gold.customer_keys_by_id(text)
CREATE OR REPLACE FUNCTION gold.customer_keys_by_id(p_target text, OUT lo integer,
                                                    OUT hi integer, OUT keys integer[])
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
DECLARE
    v_ids bigint;
    v_keys bigint;
BEGIN
    -- The key of every customer in an array indexed by id, from
    -- <target>.customer_keys__work (one row per customer id, written by
    -- gold.load_surrogate_keys), when the ids run from lo to hi without a gap,
    -- as a sequence numbers customers: the key of id i is keys[i - lo + 1].
    -- A subscript instead of a join: at scale 100 (1.85 million customers)
    -- each sales line would otherwise probe a 90 MB hash at random.  4 bytes
    -- a customer (7 MB at scale 100), built under the step's work_mem.
    -- All NULL when the ids have gaps, when a key is missing, or when the
    -- array would not fit the step's work_mem: the caller then joins on the id.
    EXECUTE format('SELECT min(w.cst_id), max(w.cst_id), count(*), count(w.customer_key) '
                   'FROM %I.customer_keys__work w', p_target)
       INTO lo, hi, v_ids, v_keys;
    IF v_ids = 0 OR v_keys <> v_ids OR hi::bigint - lo + 1 <> v_ids
       OR v_ids * 4 > pg_catalog.pg_size_bytes(current_setting('work_mem')) THEN
        lo := NULL;
        hi := NULL;
        RETURN;
    END IF;
    EXECUTE format('SELECT pg_catalog.array_agg(w.customer_key ORDER BY w.cst_id) '
                   'FROM %I.customer_keys__work w', p_target)
       INTO keys;
END;
$$;

COMMENT ON FUNCTION gold.customer_keys_by_id(text) IS
    'The key of every customer of <target>.customer_keys__work in an array indexed by id '
    '(the key of id i at i - lo + 1), when the ids run from lo to hi without a gap and the '
    'array fits work_mem; else all NULL.';
