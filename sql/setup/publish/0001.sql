-- dwh:object procedure setup.publish(bigint, text[])
CREATE OR REPLACE PROCEDURE setup.publish(p_run bigint, p_layers text[])
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_step bigint;
    v_tables text[];
    v_lock_timeout text := current_setting('lock_timeout');
    v_attempt integer := 0;
    v_error text;
BEGIN
    v_step := setup.step_begin(p_run, 'all', 'publish', array_to_string(p_layers, ', '));
    COMMIT;
    -- The published tables that have a staged replacement, in a fixed order.
    SELECT array_agg(format('%I.%I', l.layer, c.relname) ORDER BY l.n, c.relname) INTO v_tables
      FROM unnest(p_layers) WITH ORDINALITY AS l(layer, n)
      JOIN pg_catalog.pg_class c
        ON c.relnamespace = to_regnamespace(l.layer || '_stage') AND c.relkind = 'r';
    -- One short transaction: every staged table of every layer replaces its
    -- published table, the step and the run end, all or nothing.
    BEGIN
        -- Take every lock first, giving way (and trying again) while readers
        -- hold some: a reader of two tables never deadlocks with the publish.
        LOOP
            BEGIN
                PERFORM set_config('lock_timeout', '100ms', true);
                IF v_tables IS NOT NULL THEN
                    EXECUTE 'LOCK TABLE ' || array_to_string(v_tables, ', ')
                            || ' IN ACCESS EXCLUSIVE MODE';
                END IF;
                PERFORM set_config('lock_timeout', v_lock_timeout, true);
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                v_attempt := v_attempt + 1;
                PERFORM pg_catalog.pg_sleep(least(0.02 * v_attempt, 1.0));
            END;
        END LOOP;
        FOR i IN 1 .. coalesce(array_length(v_tables, 1), 0) LOOP
            PERFORM setup.swap_table(split_part(v_tables[i], '.', 1) || '_stage',
                                     split_part(v_tables[i], '.', 1),
                                     split_part(v_tables[i], '.', 2));
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        v_error := SQLERRM;
    END;
    IF v_error IS NOT NULL THEN
        CALL setup.fail_run(p_run, v_step, v_error);
    END IF;
    PERFORM setup.step_end(v_step, 'succeeded', coalesce(array_length(v_tables, 1), 0), NULL);
    UPDATE setup.etl_runs SET status = 'succeeded', finished_at = clock_timestamp()
     WHERE run_id = p_run;
    COMMIT;
END;
$$;

COMMENT ON PROCEDURE setup.publish(bigint, text[]) IS
    'Swap every staged table of the given layers in, in one transaction, and end the run.';
