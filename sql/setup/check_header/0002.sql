-- dwh:object function setup.check_header(regclass, text)
CREATE OR REPLACE FUNCTION setup.check_header(p_table regclass, p_header text)
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_expected text[];
    v_found text[];
    v_missing text[];
    v_extra text[];
    v_twice text[];
    v_other text;
    -- named as users know it: bronze.x, not the stage copy being loaded
    v_name text := regexp_replace(p_table::text, '^([a-z_]+)_stage\.', '\1.');
BEGIN
    -- Returns the table's columns in the order of the file's header, which
    -- must name each column once (any case, any order, surrounding spaces and
    -- quotes ignored).  What the header holds is told as printable text, at
    -- most ten names of a kind.
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO v_expected
      FROM pg_attribute a
     WHERE a.attrelid = p_table AND a.attnum > 0 AND NOT a.attisdropped;
    IF p_header IS NULL OR btrim(p_header, E' \t\r\n\uFEFF') = '' THEN
        RAISE EXCEPTION 'line 1: the file is empty; expected a header line: %',
            array_to_string(v_expected, ',');
    END IF;
    SELECT array_agg(lower(btrim(btrim(f, E' \t\r\uFEFF'), '"')) ORDER BY n) INTO v_found
      FROM unnest(string_to_array(p_header, ',')) WITH ORDINALITY AS h(f, n);
    v_missing := ARRAY(SELECT unnest(v_expected) EXCEPT SELECT unnest(v_found) ORDER BY 1);
    v_extra := ARRAY(SELECT unnest(v_found) EXCEPT SELECT unnest(v_expected) ORDER BY 1);
    v_twice := ARRAY(SELECT f FROM unnest(v_found) AS f GROUP BY f HAVING count(*) > 1 ORDER BY 1);
    IF cardinality(v_missing) + cardinality(v_extra) + cardinality(v_twice) = 0 THEN
        RETURN v_found;
    END IF;
    -- A file delimited otherwise holds one field whose parts are the columns.
    IF cardinality(v_found) = 1 AND cardinality(v_expected) > 1 THEN
        SELECT d INTO v_other
          FROM unnest(ARRAY[';', E'\t', '|']) AS d
         WHERE (SELECT array_agg(lower(btrim(btrim(f, E' \t\r\uFEFF'), '"')) ORDER BY f)
                  FROM unnest(string_to_array(p_header, d)) AS f)
               = (SELECT array_agg(e ORDER BY e) FROM unnest(v_expected) AS e)
         LIMIT 1;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'line 1: the file is delimited by %, not by commas; save it as comma-separated values',
                CASE v_other WHEN E'\t' THEN 'tabs' ELSE quote_literal(v_other) END
                USING HINT = 'expected the header ' || array_to_string(v_expected, ',');
        END IF;
    END IF;
    RAISE EXCEPTION 'line 1: the header does not match table %: %', v_name, concat_ws('; ',
        CASE WHEN cardinality(v_missing) > 0
             THEN 'missing column(s) ' || setup.printable(array_to_string(v_missing[1:10], ', '))
                  || CASE WHEN cardinality(v_missing) > 10
                          THEN format(' and %s more', cardinality(v_missing) - 10) ELSE '' END END,
        CASE WHEN cardinality(v_extra) > 0
             THEN 'unexpected column(s) ' || setup.printable(array_to_string(v_extra[1:10], ', '))
                  || CASE WHEN cardinality(v_extra) > 10
                          THEN format(' and %s more', cardinality(v_extra) - 10) ELSE '' END END,
        CASE WHEN cardinality(v_twice) > 0
             THEN 'repeated column(s) ' || setup.printable(array_to_string(v_twice[1:10], ', '))
                  || CASE WHEN cardinality(v_twice) > 10
                          THEN format(' and %s more', cardinality(v_twice) - 10) ELSE '' END END)
        USING HINT = 'expected the header ' || array_to_string(v_expected, ',')
                     || ' (any order, any case)';
END;
$$;

COMMENT ON FUNCTION setup.check_header(regclass, text) IS
    'Check a CSV header line against a table; returns its columns in the file''s order.';
