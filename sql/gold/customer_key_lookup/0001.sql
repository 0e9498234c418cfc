-- dwh:object function gold.customer_key_lookup(text, text)
CREATE OR REPLACE FUNCTION gold.customer_key_lookup(p_target text, p_id text,
                                                   OUT key_sql text, OUT join_sql text,
                                                   OUT lo integer, OUT hi integer,
                                                   OUT keys integer[], OUT shift integer)
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
BEGIN
    -- How a step's query finds the key of the customer whose id is p_id (an
    -- expression of that query, written by the step itself), from
    -- <target>.customer_keys__work.  Without a join when the ids have no gap:
    -- the id plus one same number when every key is (gold.customer_key_shift),
    -- else by subscript in the keys by id (gold.customer_keys_by_id).
    -- Otherwise a join on the id (join_sql; '' when there is none).
    -- key_sql reads $1 (lo), $2 (hi), $3 (keys) and $4 (shift): the caller's
    -- EXECUTE passes USING lo, hi, keys, shift.
    join_sql := '';
    SELECT s.lo, s.hi, s.shift INTO lo, hi, shift FROM gold.customer_key_shift(p_target) s;
    IF shift IS NOT NULL THEN
        key_sql := format('CASE WHEN %1$s BETWEEN $1 AND $2 THEN %1$s + $4 END', p_id);
        RETURN;
    END IF;
    SELECT k.lo, k.hi, k.keys INTO lo, hi, keys FROM gold.customer_keys_by_id(p_target) k;
    IF keys IS NOT NULL THEN
        key_sql := format('CASE WHEN %1$s BETWEEN $1 AND $2 THEN $3[%1$s - $1 + 1] END', p_id);
    ELSE
        key_sql := 'customer_key__.customer_key';
        join_sql := format('LEFT JOIN %I.customer_keys__work customer_key__ '
                           'ON customer_key__.cst_id = %s', p_target, p_id);
    END IF;
END;
$$;

COMMENT ON FUNCTION gold.customer_key_lookup(text, text) IS
    'The SQL by which a query finds the key of the customer of id <id> in '
    '<target>.customer_keys__work: its id shifted, by id, or joined (join_sql), with the '
    'parameters $1 to $4 it reads (lo, hi, keys, shift).';
