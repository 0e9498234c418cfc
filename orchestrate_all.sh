#!/usr/bin/env bash
# orchestrate_all.sh: the pipeline from a shell, with psql only (the design note's option 3).
#
# One call of setup.orchestrate_all(): bronze, silver and gold are built, checked and
# published together (all or nothing); the first error stops it, and the failing step is
# printed.  Then the time of each layer, from the run history.
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

# A password in the URL goes to psql through PGPASSWORD, never on its command line
# (which every user of the machine can read, with ps, for the whole run).
percent_decoded() { local s="${1//\\/\\\\}"; printf '%b' "${s//%/\\x}"; }
USERINFO_PASSWORD='^([a-z][a-z0-9+.-]*://)([^:/@?#]*):([^@/?#]*)@(.*)$'
QUERY_PASSWORD='^([^?]*[?])(.*&)?password=([^&]*)&?(.*)$'
KEYWORD_PASSWORD='^(.*[[:space:]])?password=([^[:space:]]*)(.*)$'   # host=... password=...
if [[ "$DB" =~ $USERINFO_PASSWORD ]]; then
    PGPASSWORD="$(percent_decoded "${BASH_REMATCH[3]}")"
    export PGPASSWORD
    DB="${BASH_REMATCH[1]}${BASH_REMATCH[2]}@${BASH_REMATCH[4]}"
fi
if [[ "$DB" =~ $QUERY_PASSWORD ]]; then
    PGPASSWORD="$(percent_decoded "${BASH_REMATCH[3]}")"
    export PGPASSWORD
    DB="${BASH_REMATCH[1]}${BASH_REMATCH[2]}${BASH_REMATCH[4]}"
    DB="${DB%[?&]}"
elif [[ "$DB" != *://* && "$DB" =~ $KEYWORD_PASSWORD ]]; then
    PGPASSWORD="${BASH_REMATCH[2]}"
    export PGPASSWORD
    DB="${BASH_REMATCH[1]}${BASH_REMATCH[3]}"
fi
PSQL=(psql "$DB" -X -q -v ON_ERROR_STOP=1)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

echo "======================================================================"
echo "STARTING COMPLETE DATA WAREHOUSE ORCHESTRATION"
echo "======================================================================"
start=$(now_ms)

if ! "${PSQL[@]}" -c "CALL setup.orchestrate_all();"; then
    echo ""
    echo "FAILED after $(seconds $(( $(now_ms) - start )))s at:"
    "${PSQL[@]}" -At -c "SELECT coalesce(failed_step, '(before the first step)') || ': ' || message
                           FROM setup.etl_runs ORDER BY run_id DESC LIMIT 1" || true
    exit 1
fi

# Per-layer timing of the run that just finished.
"${PSQL[@]}" -At -c "
    SELECT '[' || upper(part) || '] completed in '
           || to_char(extract(epoch FROM max(finished_at) - min(started_at)), 'FM999990.000') || 's'
      FROM (SELECT CASE kind WHEN 'check' THEN 'checks' WHEN 'publish' THEN 'publish'
                             ELSE layer END AS part, started_at, finished_at
              FROM setup.etl_run_steps
             WHERE run_id = (SELECT max(run_id) FROM setup.etl_runs)) AS steps
     GROUP BY part ORDER BY min(started_at)"

echo ""
echo "======================================================================"
echo "ORCHESTRATION COMPLETE - Total time: $(seconds $(( $(now_ms) - start )))s"
echo "======================================================================"
