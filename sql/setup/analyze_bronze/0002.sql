-- dwh:object function setup.analyze_bronze(text)
CREATE OR REPLACE FUNCTION setup.analyze_bronze(p_table text)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_target text := current_setting('default_statistics_target');
BEGIN
    -- Statistics of a freshly loaded staged bronze table from a sample as small
    -- as run.bronze_statistics_target asks: raw text that silver reads whole
    -- needs little more than its row count.  The server's default is restored.
    PERFORM setup.apply_setting('run.bronze_statistics_target', 'default_statistics_target',
                                'set it to a whole number from 1 to 10000, 10 by default');
    EXECUTE format('ANALYZE bronze_stage.%I', p_table);
    PERFORM set_config('default_statistics_target', v_target, true);
END;
$$;

COMMENT ON FUNCTION setup.analyze_bronze(text) IS
    'ANALYZE bronze_stage.<table> with the statistics target run.bronze_statistics_target '
    '(the client''s loads and setup.load_bronze_file both call it).';
