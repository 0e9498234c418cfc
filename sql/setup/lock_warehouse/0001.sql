-- dwh:object function setup.lock_warehouse()
CREATE OR REPLACE FUNCTION setup.lock_warehouse()
RETURNS void
LANGUAGE sql SECURITY INVOKER
AS $$
    -- The same session-level advisory lock that migrations hold (dwh/db.py):
    -- a run waits for a migration to finish, and the other way round.
    SELECT pg_catalog.pg_advisory_lock(6584168, 1)
$$;

COMMENT ON FUNCTION setup.lock_warehouse() IS
    'Wait for, then hold, the warehouse lock shared by migrations and runs (session level).';
