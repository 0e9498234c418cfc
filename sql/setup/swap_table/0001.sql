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
    v_owner text;
    r record;
BEGIN
    IF v_new IS NULL THEN
        RAISE EXCEPTION 'nothing staged for %.%', p_schema, p_table;
    END IF;
    IF v_old IS NULL THEN
        RAISE EXCEPTION 'table %.% does not exist: run dwh upgrade', p_schema, p_table;
    END IF;
    IF EXISTS (
        (SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
          WHERE attrelid = v_old AND attnum > 0 AND NOT attisdropped
         EXCEPT
         SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
          WHERE attrelid = v_new AND attnum > 0 AND NOT attisdropped)
        UNION ALL
        (SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
          WHERE attrelid = v_new AND attnum > 0 AND NOT attisdropped
         EXCEPT
         SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
          WHERE attrelid = v_old AND attnum > 0 AND NOT attisdropped)) THEN
        RAISE EXCEPTION 'staged %.% has other columns than %.%', p_stage, p_table, p_schema, p_table;
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
    EXECUTE format('COMMENT ON TABLE %s IS %L', v_new,
                   pg_catalog.obj_description(format('%I.%I', p_schema, v_retired)::regclass, 'pg_class'));

    FOR i IN 1 .. coalesce(array_length(v_views, 1), 0) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', v_views[i], v_defs[i]);
    END LOOP;
    EXECUTE format('DROP TABLE %I.%I', p_schema, v_retired);
END;
$$;

COMMENT ON FUNCTION setup.swap_table(text, text, text) IS
    'Publish a staged table in place of the published one: same name, owner, grants, comment; '
    'views reading it follow. Call it inside the publish transaction.';
