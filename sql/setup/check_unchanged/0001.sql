-- dwh:object function setup.check_unchanged(text, bigint, timestamp with time zone)
CREATE OR REPLACE FUNCTION setup.check_unchanged(p_path text, p_size bigint, p_modified timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now record;
BEGIN
    -- A server file a load read must be as it was when the load began (its size
    -- and modification time): else what COPY read may be half of it.
    v_now := pg_stat_file(p_path, true);
    IF v_now IS NULL OR v_now.size IS DISTINCT FROM p_size
       OR v_now.modification IS DISTINCT FROM p_modified THEN
        RAISE EXCEPTION 'the file changed while it was being loaded (%); nothing of it is published: load it again once it is complete',
            CASE WHEN v_now.size IS NULL THEN 'it was removed'
                 WHEN v_now.size <> p_size THEN format('it went from %s to %s bytes', p_size, v_now.size)
                 ELSE format('it was rewritten at %s', v_now.modification) END;
    END IF;
END;
$$;

COMMENT ON FUNCTION setup.check_unchanged(text, bigint, timestamp with time zone) IS
    'Fail when a server file no longer has the size and modification time a load began with.';
