-- dwh:object function setup.refresh_load_jobs()
CREATE OR REPLACE FUNCTION setup.refresh_load_jobs()
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_count integer;
BEGIN
    -- Discovery: every ordinary table bronze.<source>_<dataset> (but the
    -- metadata tables) is a job loading <base path of source>/<dataset>.csv.
    -- Existing jobs keep their order and enabled flag; new ones go last.
    WITH discovered AS (
        SELECT c.relname::text AS table_name,
               split_part(c.relname, '_', 1) AS source,
               substr(c.relname, strpos(c.relname, '_') + 1) AS dataset
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'bronze'::regnamespace
           AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname NOT IN ('load_log', 'load_jobs')
           AND c.relname ~ '^[^_]+_.+$'
    ), gone AS (
        DELETE FROM bronze.load_jobs j
         WHERE NOT EXISTS (SELECT 1 FROM discovered d WHERE d.table_name = j.table_name)
    )
    INSERT INTO bronze.load_jobs (table_name, source, dataset, file_name, load_order)
    SELECT d.table_name, d.source, d.dataset, d.dataset || '.csv',
           coalesce((SELECT max(load_order) FROM bronze.load_jobs), 0)
           + row_number() OVER (ORDER BY d.table_name COLLATE "C")
      FROM discovered d
     WHERE NOT EXISTS (SELECT 1 FROM bronze.load_jobs j WHERE j.table_name = d.table_name);
    SELECT count(*) INTO v_count FROM bronze.load_jobs WHERE enabled;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION setup.refresh_load_jobs() IS
    'Discover the bronze tables and refresh bronze.load_jobs; returns the number of enabled jobs.';
