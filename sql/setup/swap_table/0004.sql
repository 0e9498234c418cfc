-- dwh:object function setup.swap_table(text, text, text)
CREATE OR REPLACE FUNCTION setup.swap_table(p_stage text, p_schema text, p_table text)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_old regclass := to_regclass(format('%I.%I', p_schema, p_table));
    v_new regclass := to_regclass(format('%I.%I', p_stage, p_table));
    v_retired text := left(p_table, 50) || '__retired';
    v_views regclass[] := '{}';
    v_defs text[] := '{}';
    v_options text[] := '{}';
    v_owner text;
    v_reset text;
    v_set text;
    r record;
BEGIN
    IF v_new IS NULL THEN
        RAISE EXCEPTION 'nothing staged for %.%', p_schema, p_table;
    END IF;
    IF v_old IS NULL THEN
        RAISE EXCEPTION 'table %.% does not exist: run dwh upgrade', p_schema, p_table;
    END IF;
    -- Same names, types and collations (a collation is part of what the revisions
    -- give a column, and of what dwh doctor compares).
    IF EXISTS (
        (SELECT attname, atttypid, atttypmod, attcollation FROM pg_catalog.pg_attribute
          WHERE attrelid = v_old AND attnum > 0 AND NOT attisdropped
         EXCEPT
         SELECT attname, atttypid, atttypmod, attcollation FROM pg_catalog.pg_attribute
          WHERE attrelid = v_new AND attnum > 0 AND NOT attisdropped)
        UNION ALL
        (SELECT attname, atttypid, atttypmod, attcollation FROM pg_catalog.pg_attribute
          WHERE attrelid = v_new AND attnum > 0 AND NOT attisdropped
         EXCEPT
         SELECT attname, atttypid, atttypmod, attcollation FROM pg_catalog.pg_attribute
          WHERE attrelid = v_old AND attnum > 0 AND NOT attisdropped)) THEN
        RAISE EXCEPTION 'staged %.% has other columns than %.% (names, types or collations)',
                        p_stage, p_table, p_schema, p_table;
    END IF;

    -- Views reading the published table are re-pointed at the new one (same
    -- definition, same OID, grants and comments), never dropped.  Definitions
    -- are read with an empty search_path, so every name in them is qualified.
    PERFORM set_config('search_path', 'pg_catalog', true);
    FOR r IN SELECT DISTINCT v.oid::regclass AS view, v.relkind
               FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid
               JOIN pg_catalog.pg_class v ON v.oid = w.ev_class
              WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
                AND d.refobjid = v_old AND v.oid <> v_old LOOP
        IF r.relkind <> 'v' THEN
            RAISE EXCEPTION 'materialized view % reads %.%, which dwh replaces at each run; '
                            'make it a plain view or refresh it from a table of your own',
                            r.view, p_schema, p_table;
        END IF;
        v_views := v_views || r.view;
        v_defs := v_defs || pg_catalog.pg_get_viewdef(r.view);
        -- security_barrier, security_invoker, check_option: kept as they are
        v_options := v_options || (SELECT array_to_string(c.reloptions, ', ')
                                     FROM pg_catalog.pg_class c WHERE c.oid = r.view);
    END LOOP;

    SELECT pg_catalog.pg_get_userbyid(c.relowner) INTO v_owner
      FROM pg_catalog.pg_class c WHERE c.oid = v_old;

    -- Retire the published table, freeing the names of its indexes and sequences.
    FOR r IN SELECT i.indexrelid::regclass AS idx, c.relname
               FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = v_old LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I', r.idx, left(r.relname, 50) || '__retired');
    END LOOP;
    FOR r IN SELECT d.objid::regclass AS seq, c.relname
               FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
              WHERE d.refobjid = v_old AND d.classid = 'pg_catalog.pg_class'::regclass
                AND c.relkind = 'S' LOOP
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', r.seq, left(r.relname, 50) || '__retired');
    END LOOP;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', v_old, v_retired);
    EXECUTE format('ALTER TABLE %s SET SCHEMA %I', v_new, p_schema);
    v_new := format('%I.%I', p_schema, p_table)::regclass;

    -- Same owner, privileges and comment as the table it replaces.
    IF v_owner IS DISTINCT FROM (SELECT pg_catalog.pg_get_userbyid(relowner)
                                   FROM pg_catalog.pg_class WHERE oid = v_new) THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', v_new, v_owner);
    END IF;
    FOR r IN SELECT DISTINCT a.grantee FROM pg_catalog.pg_class c, aclexplode(c.relacl) a
              WHERE c.oid = v_new AND a.grantee <> c.relowner LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %s', v_new,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
    END LOOP;
    FOR r IN SELECT a.grantee, a.privilege_type, a.is_grantable
               FROM pg_catalog.pg_class c, aclexplode(c.relacl) a
              WHERE c.oid = to_regclass(format('%I.%I', p_schema, v_retired)) LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', r.privilege_type, v_new,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    -- Column privileges too.
    FOR r IN SELECT a.attname, x.grantee, x.privilege_type, x.is_grantable
               FROM pg_catalog.pg_attribute a, aclexplode(a.attacl) x
              WHERE a.attrelid = to_regclass(format('%I.%I', p_schema, v_retired))
                AND a.attnum > 0 AND NOT a.attisdropped LOOP
        EXECUTE format('GRANT %s (%I) ON %s TO %s%s', r.privilege_type, r.attname, v_new,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE format('COMMENT ON TABLE %s IS %L', v_new,
                   pg_catalog.obj_description(format('%I.%I', p_schema, v_retired)::regclass, 'pg_class'));
    -- Triggers, row-level security and its policies a user put on the table.
    FOR r IN SELECT pg_catalog.pg_get_triggerdef(t.oid) AS def
               FROM pg_catalog.pg_trigger t
              WHERE t.tgrelid = to_regclass(format('%I.%I', p_schema, v_retired))
                AND NOT t.tgisinternal LOOP
        EXECUTE replace(r.def, ' ON ' || format('%I.%I', p_schema, v_retired) || ' ',
                        ' ON ' || v_new::text || ' ');
    END LOOP;
    IF (SELECT c.relrowsecurity FROM pg_catalog.pg_class c
         WHERE c.oid = to_regclass(format('%I.%I', p_schema, v_retired))) THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', v_new);
    END IF;
    IF (SELECT c.relforcerowsecurity FROM pg_catalog.pg_class c
         WHERE c.oid = to_regclass(format('%I.%I', p_schema, v_retired))) THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', v_new);
    END IF;
    FOR r IN SELECT p.policyname, p.permissive, p.roles, p.cmd, p.qual, p.with_check
               FROM pg_catalog.pg_policies p
              WHERE p.schemaname = p_schema AND p.tablename = v_retired LOOP
        EXECUTE format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', r.policyname, v_new,
                       r.permissive, r.cmd,
                       (SELECT string_agg(CASE WHEN role = 'public' THEN 'PUBLIC'
                                               ELSE quote_ident(role) END, ', ')
                          FROM unnest(r.roles) AS role),
                       CASE WHEN r.qual IS NOT NULL THEN ' USING (' || r.qual || ')' ELSE '' END,
                       CASE WHEN r.with_check IS NOT NULL
                            THEN ' WITH CHECK (' || r.with_check || ')' ELSE '' END);
    END LOOP;
    -- Storage parameters (fillfactor, autovacuum settings, also the TOAST
    -- table's): the published table's, not the stage's (autovacuum_enabled
    -- off while the run built it, see setup.finish_stage).
    SELECT string_agg(format('%I', o.option_name), ', ') INTO v_reset
      FROM pg_catalog.pg_class c, pg_catalog.pg_options_to_table(c.reloptions) o
     WHERE c.oid = v_new;
    IF v_reset IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s RESET (%s)', v_new, v_reset);
    END IF;
    SELECT string_agg(format('%s%I = %L', CASE WHEN c.oid <> t.oid THEN 'toast.' ELSE '' END,
                             o.option_name, o.option_value), ', ') INTO v_set
      FROM pg_catalog.pg_class t
      JOIN pg_catalog.pg_class c ON c.oid IN (t.oid, t.reltoastrelid)
     CROSS JOIN LATERAL pg_catalog.pg_options_to_table(c.reloptions) o
     WHERE t.oid = to_regclass(format('%I.%I', p_schema, v_retired));
    IF v_set IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s SET (%s)', v_new, v_set);
    END IF;

    FOR i IN 1 .. coalesce(array_length(v_views, 1), 0) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s%s AS %s', v_views[i],
                       CASE WHEN v_options[i] IS NOT NULL AND v_options[i] <> ''
                            THEN ' WITH (' || v_options[i] || ')' ELSE '' END,
                       v_defs[i]);
    END LOOP;
    EXECUTE format('DROP TABLE %I.%I', p_schema, v_retired);
END;
$$;

COMMENT ON FUNCTION setup.swap_table(text, text, text) IS
    'Publish a staged table in place of the published one: same name, owner, grants (table '
    'and column), comment, triggers, row-level security, storage parameters; views reading '
    'it follow with their options. Call it inside the publish transaction.';
