-- dwh:object function setup.publish_tables(bigint, text[])
CREATE OR REPLACE FUNCTION setup.publish_tables(p_run bigint, p_layers text[])
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_locks text[];
    v_lock text;
    v_try_end timestamptz;
    v_queries text;
    v_columns text;
    v_lock_timeout text := current_setting('lock_timeout');
    v_wait text := '100ms';
    v_tables oid[];
    v_attempt integer := 0;
    v_count integer := 0;
    v_started timestamptz := clock_timestamp();
    v_timeout interval;
    v_blockers text;
    r record;
BEGIN
    -- What setup.publish does inside its one transaction: every staged table of
    -- the given layers goes in; returns how many.  A table <layer>_stage.t__work
    -- is the run's scratch (read by its steps, never published): it goes first.
    IF p_layers IS NULL OR cardinality(p_layers) = 0
       OR NOT p_layers <@ ARRAY['bronze', 'silver', 'gold'] THEN
        RAISE EXCEPTION 'cannot publish layers %: expected some of bronze, silver, gold', p_layers;
    END IF;
    FOR r IN SELECT l.layer || '_stage' AS stage, c.relname::text AS scratch
               FROM unnest(p_layers) AS l(layer)
               JOIN pg_catalog.pg_class c
                 ON c.relnamespace = to_regnamespace(l.layer || '_stage')
                AND c.relkind = 'r' AND c.relname ~ '__work$' LOOP
        EXECUTE format('DROP TABLE %I.%I', r.stage, r.scratch);
    END LOOP;
    -- What the run staged: a table <layer>_stage.t replaces <layer>.t; a table
    -- <layer>_stage.t__append is appended to <layer>.t (a map that only grows).
    SELECT array_agg(x.name ORDER BY p.n, x.k),
           array_agg(DISTINCT format('%I.%I', p.layer, p.target)::regclass::oid)
      INTO v_locks, v_tables
      FROM (SELECT row_number() OVER (ORDER BY l.n, c.relname COLLATE "C") AS n, l.layer,
                          l.layer || '_stage' AS stage, c.relname::text AS staged,
                          regexp_replace(c.relname, '__append$', '') AS target
                     FROM unnest(p_layers) WITH ORDINALITY AS l(layer, n)
                     JOIN pg_catalog.pg_class c
                       ON c.relnamespace = to_regnamespace(l.layer || '_stage')
                      AND c.relkind = 'r' ) AS p
     CROSS JOIN LATERAL (VALUES (1, format('%I.%I', p.layer, p.target)),
                                (2, format('%I.%I', p.stage, p.staged))) AS x(k, name);
    -- Take every lock first, giving way (and trying again) while readers hold
    -- some: a reader of two tables never deadlocks with the publish.  Each try
    -- waits, for all its locks together, twice as long as the one before (up to
    -- 5 s, never past the timeout): while it waits, readers
    -- that come queue behind it, so readers that come and go let it through once
    -- a try outlasts their queries; between tries they get through.  No longer
    -- than run.publish_timeout in all: then the run fails, naming each session in
    -- the way, and nothing is published.  An
    -- autovacuum worker in one of the published tables (VACUUM of the rows the
    -- last run published, which this publish is about to drop) is outwaited by
    -- no retry: the server cancels it only for a lock request that has waited
    -- deadlock_timeout.  So while a session holds SHARE UPDATE EXCLUSIVE on one
    -- of the tables (what a VACUUM holds; pg_locks shows it to every role), each
    -- try waits a second longer than that.  A reader that asks for a table the
    -- publish holds meanwhile is a deadlock the publish finds first, having
    -- waited longer: it gives way and tries again.
    SELECT coalesce(nullif(btrim(c.value), '')::interval, interval '3 minutes') INTO v_timeout
      FROM (SELECT NULL) AS d LEFT JOIN setup.etl_config c ON c.key = 'run.publish_timeout';
    LOOP
        BEGIN
            v_try_end := clock_timestamp() + v_wait::interval;
            FOREACH v_lock IN ARRAY coalesce(v_locks, '{}') LOOP
                PERFORM set_config('lock_timeout', greatest(1, ceil(1000 * extract(epoch FROM
                                       v_try_end - clock_timestamp())))::bigint || 'ms', true);
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v_lock);
            END LOOP;
            PERFORM set_config('lock_timeout', v_lock_timeout, true);
            EXIT;
        EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
            v_attempt := v_attempt + 1;
            IF clock_timestamp() - v_started >= v_timeout THEN
                -- Their queries go to the error only, not to the run history, which
                -- every dwh_loader member reads: a query may show what its user alone
                -- may see.
                SELECT string_agg(format('pid %s (user %s, %s, %s since %s)', a.pid,
                                         coalesce(a.usename::text, '?'),
                                         coalesce(nullif(a.application_name, ''), 'no application name'),
                                         coalesce(a.state, 'state hidden'),
                                         to_char(coalesce(a.xact_start, a.query_start, a.backend_start),
                                                 'YYYY-MM-DD HH24:MI:SS')),
                                  '; ' ORDER BY a.pid),
                       string_agg(format('pid %s: %s', a.pid, coalesce(setup.printable(
                                      regexp_replace(a.query, '\s+', ' ', 'g'), 200), '?')),
                                  '; ' ORDER BY a.pid)
                  INTO v_blockers, v_queries
                  FROM pg_catalog.pg_stat_activity a
                 WHERE a.pid IN (SELECT l.pid FROM pg_catalog.pg_locks l
                                  WHERE l.locktype = 'relation' AND l.granted
                                    AND l.pid <> pg_backend_pid()
                                    AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                                       WHERE d.datname = current_database())
                                    AND l.relation = ANY (v_tables));
                RAISE EXCEPTION 'the publish waited % (run.publish_timeout) for the sessions using the tables it replaces, and gave up: %; nothing was published',
                    date_trunc('second', clock_timestamp() - v_started),
                    coalesce(v_blockers, 'sessions that have since let go')
                    USING ERRCODE = 'lock_not_available',
                          DETAIL = 'their queries: ' || coalesce(v_queries, 'none'),
                          HINT = 'end them (SELECT pg_terminate_backend(pid)), or raise '
                                 'run.publish_timeout in setup.etl_config, and run again';
            END IF;
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                        WHERE l.locktype = 'relation' AND l.granted
                          AND l.mode = 'ShareUpdateExclusiveLock'
                          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                             WHERE d.datname = current_database())
                          AND l.relation = ANY (v_tables)) THEN
                v_wait := least(extract(epoch FROM pg_catalog.current_setting('deadlock_timeout')::interval)
                                * 1000 + 1000,
                                greatest(1, 1000 * extract(epoch FROM v_timeout
                                                           - (clock_timestamp() - v_started)))
                               )::bigint || 'ms';
            ELSE
                v_wait := least(100 * 2 ^ least(v_attempt, 6), 5000,
                                greatest(1, 1000 * extract(epoch FROM v_timeout
                                                           - (clock_timestamp() - v_started)))
                               )::bigint || 'ms';
            END IF;
            -- Readers queued behind the tries get through in between.
            PERFORM pg_catalog.pg_sleep(least(0.02 * v_attempt, 1.0));
        END;
    END LOOP;
    FOR r IN SELECT row_number() OVER (ORDER BY l.n, c.relname COLLATE "C") AS n, l.layer,
                      l.layer || '_stage' AS stage, c.relname::text AS staged,
                      regexp_replace(c.relname, '__append$', '') AS target,
                      c.relname ~ '__append$' AS append
                 FROM unnest(p_layers) WITH ORDINALITY AS l(layer, n)
                 JOIN pg_catalog.pg_class c
                   ON c.relnamespace = to_regnamespace(l.layer || '_stage')
                  AND c.relkind = 'r'
              ORDER BY 1 LOOP
        IF r.append THEN
            SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) INTO v_columns
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = format('%I.%I', r.layer, r.target)::regclass
               AND a.attnum > 0 AND NOT a.attisdropped;
            EXECUTE format('INSERT INTO %I.%I (%s) SELECT %s FROM %I.%I',
                           r.layer, r.target, v_columns, v_columns, r.stage, r.staged);
            EXECUTE format('DROP TABLE %I.%I', r.stage, r.staged);
        ELSE
            PERFORM setup.swap_table(r.stage, r.layer, r.target);
        END IF;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION setup.publish_tables(bigint, text[]) IS
    'Inside setup.publish''s transaction: drop the scratch (__work) tables of the given '
    'layers'' stages, lock every published table (waiting at most run.publish_timeout), put '
    'every staged table in (swapped, or appended for a __append table); returns how many.';
