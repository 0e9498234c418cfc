-- dwh:object function setup.check_search_path(name[])
CREATE OR REPLACE FUNCTION setup.check_search_path(p_schemas name[])
RETURNS void
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_open text;
BEGIN
    -- A run's statements find unqualified functions and operators in the caller's
    -- search_path (p_schemas: current_schemas(true) as the caller sees it).  A
    -- schema there in which dwh_loader, one of its members or PUBLIC may create
    -- objects would let a loader put code of its own in the run's way, running
    -- with the rights of whoever started it.  The session's own temporary schema
    -- is its own; dwh_owner (a member of dwh_loader) is the engine's.
    SELECT string_agg(format('%I', s), ', ' ORDER BY o)
      INTO v_open
      FROM unnest(p_schemas) WITH ORDINALITY AS u(s, o)
      JOIN pg_namespace n ON n.nspname = u.s
     WHERE n.oid <> pg_my_temp_schema() AND n.nspname <> 'pg_catalog'
       AND (has_schema_privilege('public', n.oid, 'CREATE')
            -- (a member counts with every role it may SET ROLE to, inherited or not)
            OR EXISTS (SELECT 1 FROM pg_roles r JOIN pg_roles g
                                  ON pg_has_role(r.oid, g.oid, 'MEMBER')
                        WHERE NOT r.rolsuper AND r.rolname <> 'dwh_owner'
                          AND pg_has_role(r.oid, 'dwh_loader', 'MEMBER')
                          AND (has_schema_privilege(g.oid, n.oid, 'CREATE')
                               OR g.oid = n.nspowner)));
    IF v_open IS NOT NULL THEN
        RAISE EXCEPTION 'the session''s search_path holds schema(s) % where dwh_loader or PUBLIC may create functions and operators, which the run would then call with your rights', v_open
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'run it with SET search_path = pg_catalog first (dwh''s own sessions '
                         'do), or REVOKE CREATE ON SCHEMA ' || v_open || ' FROM PUBLIC';
    END IF;
END;
$$;

COMMENT ON FUNCTION setup.check_search_path(name[]) IS
    'Refuse a search_path holding a schema where dwh_loader, its members or PUBLIC may create '
    'objects (a run would find them there).';
