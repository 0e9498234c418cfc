-- dwh:object function setup.join_run(bigint)
CREATE OR REPLACE FUNCTION setup.join_run(p_run bigint)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_run record;
    v_pid integer;
BEGIN
    -- Called by each piece of a run's work (a load, a step, a check, the publish)
    -- in the transaction that does it.  The warehouse lock lives on the session
    -- that started the run, which may end while the work goes on elsewhere; so
    -- the work holds the run lock shared until its transaction ends (a migration
    -- or a new run, once it has the warehouse lock, waits for every such
    -- transaction: setup.lock_warehouse, dwh/db.py), and goes on only while the
    -- run's session still holds the warehouse lock.  Only the login that started the
    -- run takes part in it (a dwh_loader login may not work on another's run).
    PERFORM pg_advisory_xact_lock_shared(6584168, 2);
    SELECT r.backend_pid, r.status, r.failed_step, r.started_at INTO v_run
      FROM setup.etl_runs r WHERE r.run_id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run;
    ELSIF v_run.status = 'failed' THEN
        RAISE EXCEPTION 'run % failed meanwhile (at %): this step does not start', p_run,
            coalesce(v_run.failed_step, 'start');
    ELSIF v_run.status NOT IN ('running', 'abandoned') THEN
        RAISE EXCEPTION 'run % is %: this step does not start', p_run, v_run.status;
    END IF;
    v_pid := v_run.backend_pid;
    -- (abandoned: a new run found the session gone first; a session started after
    -- the run is another that took over its pid)
    IF v_run.status = 'abandoned' OR NOT EXISTS (SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.classid = 6584168 AND l.objid = 1
                      AND l.objsubid = 2 AND l.granted AND l.pid = v_pid
                      AND l.database = (SELECT d.oid FROM pg_database d
                                         WHERE d.datname = current_database()))
       OR EXISTS (SELECT 1 FROM pg_stat_activity a
                   WHERE a.pid = v_pid AND a.backend_start > v_run.started_at) THEN
        RAISE EXCEPTION 'run % lost the warehouse lock: the session holding it (pid %) ended, so another run or a migration may have started; the run stops, nothing is published', p_run, v_pid
            USING ERRCODE = 'lock_not_available',
                  HINT = 'run it again once nothing else runs (dwh runs shows what did)';
    END IF;
    IF (SELECT a.usename FROM pg_stat_activity a WHERE a.pid = v_pid) IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'run % is not a run of user %, who may not take part in it', p_run, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

COMMENT ON FUNCTION setup.join_run(bigint) IS
    'Take part in a run: hold the run lock shared for this transaction, and fail when the '
    'session that started the run no longer holds the warehouse lock, or is another login''s.';
