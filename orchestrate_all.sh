#!/usr/bin/env bash
# orchestrate_all.sh: the pipeline from a shell, with psql only (the design note's option 3).
#
# Runs setup.orchestrate_bronze(), then _silver(), then _gold(), each in its own call,
# stopping at the first error, and prints the time of each layer.  Each call is a run of
# its own that checks and publishes its layer; for one run that publishes all layers
# together (all or nothing) use `psql -c "CALL setup.orchestrate_all()"` or `dwh orchestrate`.
#
# The database: $DWH_DATABASE_URL, else $DATABASE_URL, else libpq's PG* variables with
# the database sql_retail_analytics_warehouse.  Bronze is read by the server from the
# directories in setup.etl_config (source.crm.base_path, source.erp.base_path).
set -euo pipefail

DB="${DWH_DATABASE_URL:-${DATABASE_URL:-}}"
if [ -z "$DB" ]; then
    DB="dbname=${PGDATABASE:-sql_retail_analytics_warehouse}"
fi
DB="${DB/postgresql+psycopg2:/postgresql:}"   # the SQLAlchemy spelling, for psql

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

echo "======================================================================"
echo "STARTING COMPLETE DATA WAREHOUSE ORCHESTRATION"
echo "======================================================================"
pipeline_start=$(now_ms)

execute_procedure() {
    local procedure=$1 layer=$2 start
    echo ""
    echo "[$layer] Executing: $procedure"
    echo "----------------------------------------------------------------------"
    start=$(now_ms)
    if ! psql "$DB" -X -q -v ON_ERROR_STOP=1 -c "CALL $procedure();"; then
        echo "[$layer] FAILED after $(seconds $(( $(now_ms) - start )))s"
        exit 1
    fi
    echo "[$layer] completed in $(seconds $(( $(now_ms) - start )))s"
}

execute_procedure "setup.orchestrate_bronze" "BRONZE"
execute_procedure "setup.orchestrate_silver" "SILVER"
execute_procedure "setup.orchestrate_gold" "GOLD"

echo ""
echo "======================================================================"
echo "ORCHESTRATION COMPLETE - Total time: $(seconds $(( $(now_ms) - pipeline_start )))s"
echo "======================================================================"
