-- dwh:object function setup.finish_stage(text, text)
CREATE OR REPLACE FUNCTION setup.finish_stage(p_layer text, p_table text)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_published regclass := format('%I.%I', p_layer, p_table)::regclass;
    v_stage regclass := format('%I.%I', p_layer || '_stage', p_table)::regclass;
    r record;
BEGIN
    -- A staged table built by CREATE TABLE AS (fast, and parallel where the
    -- server can) gets what the revisions gave the published one, once its
    -- rows are in: defaults, NOT NULL, constraints, indexes, column comments.
    -- Names are read with an empty search_path, so they come out qualified.
    PERFORM set_config('search_path', 'pg_catalog', true);
    -- Autovacuum off until the publish (in this transaction, so before it can
    -- see the table): its ANALYZE is the one below, and a VACUUM of the new
    -- rows would take a core from the run and hold a lock the publish must
    -- wait for (the publish waits 100 ms at a time, which never makes the
    -- server cancel an autovacuum: that takes a wait of deadlock_timeout).
    -- setup.swap_table gives the table the published one's storage parameters.
    EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', v_stage);
    FOR r IN SELECT a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS def, a.attnotnull,
                    pg_catalog.col_description(a.attrelid, a.attnum) AS comment
               FROM pg_catalog.pg_attribute a
               LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = v_published AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum LOOP
        IF r.def IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', v_stage, r.attname, r.def);
        END IF;
        IF r.attnotnull THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', v_stage, r.attname);
        END IF;
        IF r.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', v_stage, r.attname, r.comment);
        END IF;
    END LOOP;
    FOR r IN SELECT k.conname, pg_catalog.pg_get_constraintdef(k.oid) AS def
               FROM pg_catalog.pg_constraint k
              WHERE k.conrelid = v_published AND k.contype IN ('p', 'u', 'c', 'x')
              ORDER BY k.contype DESC, k.conname LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', v_stage, r.conname, r.def);
    END LOOP;
    FOR r IN SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def
               FROM pg_catalog.pg_index i
              WHERE i.indrelid = v_published
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                                 WHERE k.conindid = i.indexrelid AND k.conrelid = v_published) LOOP
        EXECUTE replace(r.def, ' ON ' || v_published::text || ' USING ',
                        ' ON ' || v_stage::text || ' USING ');
    END LOOP;
    EXECUTE format('ANALYZE %s', v_stage);
END;
$$;

COMMENT ON FUNCTION setup.finish_stage(text, text) IS
    'Give a staged table built by CREATE TABLE AS the defaults, NOT NULLs, constraints, '
    'indexes and column comments of its published table, then ANALYZE it; autovacuum is off '
    'for it until the publish.';
