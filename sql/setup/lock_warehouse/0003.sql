-- dwh:object function setup.lock_warehouse()
CREATE OR REPLACE FUNCTION setup.lock_warehouse()
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_holder text;
BEGIN
    -- The same session-level advisory lock that migrations hold (dwh/db.py):
    -- a run waits for a migration to finish, and the other way round.  How
    -- long: the session's lock_timeout (0, the default: as long as it takes).
    BEGIN
        PERFORM pg_advisory_lock(6584168, 1);
    EXCEPTION WHEN lock_not_available THEN
        SELECT format('pid %s (%s, user %s, connected since %s), running: %s', a.pid,
                      coalesce(nullif(a.application_name, ''), 'no application name'), a.usename,
                      to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS'),
                      setup.printable(regexp_replace(a.query, '\s+', ' ', 'g'), 200))
          INTO v_holder
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 6584168 AND l.objid = 1
           AND l.objsubid = 2
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
        RAISE EXCEPTION 'the warehouse is locked by another migration or run, held by %; gave up after lock_timeout %',
            coalesce(v_holder, 'a session that has since let it go'), current_setting('lock_timeout')
            USING ERRCODE = 'lock_not_available',
                  HINT = 'wait for it to finish, or raise lock_timeout (SET lock_timeout = 0 waits)';
    END;
    -- Then the work still going on for a run whose session has ended (which
    -- holds the run lock shared: setup.join_run) must end first.
    BEGIN
        PERFORM pg_advisory_lock(6584168, 2);
        PERFORM pg_advisory_unlock(6584168, 2);
    EXCEPTION WHEN lock_not_available THEN
        PERFORM pg_advisory_unlock(6584168, 1);
        SELECT string_agg(format('pid %s (%s, user %s)', a.pid,
                                 coalesce(nullif(a.application_name, ''), 'no application name'),
                                 a.usename), ', ')
          INTO v_holder
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 6584168 AND l.objid = 2
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
        RAISE EXCEPTION 'the warehouse is still busy with the work of a run whose session ended: %; gave up after lock_timeout %',
            coalesce(v_holder, 'a session that has since finished'), current_setting('lock_timeout')
            USING ERRCODE = 'lock_not_available',
                  HINT = 'wait for it to finish (it stops at its next step), or raise lock_timeout';
    END;
END;
$$;

COMMENT ON FUNCTION setup.lock_warehouse() IS
    'Wait for, then hold, the warehouse lock shared by migrations and runs (session level), '
    'then for the work of a run whose session ended; past the session''s lock_timeout, an '
    'error naming who holds it.';
