-- dwh:object function setup.prepare_stage(text, text[])
CREATE OR REPLACE FUNCTION setup.prepare_stage(p_layer text, p_tables text[])
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_stage text := p_layer || '_stage';
    v_table text;
    v_count integer := 0;
BEGIN
    -- Leftovers of an earlier run (kept for inspection when it failed) go first.
    FOR v_table IN SELECT c.relname FROM pg_catalog.pg_class c
                    WHERE c.relnamespace = v_stage::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('DROP TABLE %I.%I', v_stage, v_table);
    END LOOP;
    FOREACH v_table IN ARRAY p_tables LOOP
        -- Out of autovacuum's way while the run fills it (see setup.finish_stage);
        -- the publish gives it the published table's storage parameters.
        EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL) '
                       'WITH (autovacuum_enabled = false)',
                       v_stage, v_table, p_layer, v_table);
        -- A load by a dwh_loader login (whose run this is: a caller without
        -- dwh_owner's privileges) writes the rows, COPY into a table it truncates,
        -- and nothing else: it owns no table, so it can put no code (a trigger, a
        -- default, a constraint) in the way of anyone's run; other logins may not.
        IF p_layer = 'bronze' AND NOT pg_catalog.pg_has_role(session_user, 'dwh_owner', 'USAGE') THEN
            EXECUTE format('GRANT INSERT, TRUNCATE ON %I.%I TO %I', v_stage, v_table, session_user);
        END IF;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION setup.prepare_stage(text, text[]) IS
    'Empty the stage schema of a layer and create an empty copy of each given table in it '
    '(autovacuum off until the publish; a bronze one the run''s login may truncate and fill).';
