-- dwh:object function setup.release_lock()
CREATE OR REPLACE FUNCTION setup.release_lock()
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- Session advisory locks count; release every hold this session has.
    WHILE EXISTS (SELECT 1 FROM pg_catalog.pg_locks
                   WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()
                     AND classid = 6584168 AND objid = 1 AND objsubid = 2 AND granted) LOOP
        PERFORM pg_catalog.pg_advisory_unlock(6584168, 1);
    END LOOP;
END;
$$;

COMMENT ON FUNCTION setup.release_lock() IS 'Release the warehouse lock held by this session.';
