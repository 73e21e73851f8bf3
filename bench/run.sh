#!/usr/bin/env bash
# Benchmark: crm_migration against Odoo's own load(), measured in the same run.
#
#   bench/run.sh [PATIENTS] [BATCH]      (defaults: 5000 patients, batches of 500)
#
# Generates a clinic export (PATIENTS patients, 2 appointments each, ...),
# installs the addon in a fresh database, then runs each phase in its own
# process (its own copy of the database) and prints records/s, SQL queries per
# record and peak RSS side by side, each speed also as a ratio to load()'s in
# this very run (absolute figures are noisy on a shared machine, ratios less):
#   load      crm.lead.load() of the patients (what Settings > Import does)
#   patients  crm_migration loading the same patients (all mapped fields, x_ fields,
#             link table, checksums, read-back)
#   clinic    crm_migration loading the whole export in dependency order
#   rollback  the patients run rolled back (the load untimed; failed = leads left)
#   queue     the clinic full run on OCA queue_job (when installed): a real Odoo server with
#             its job runner (--load=web,queue_job), channel capacity 1 then 2 (as many
#             HTTP workers), records/s of each and the speed-up of 2 workers over 1
#
# BENCH_PHASES="clinic queue" bench/run.sh ...  runs only the phases named.
source "$(dirname "$0")/../scripts/common.sh"
require_odoo

PATIENTS="${1:-5000}"
BATCH="${2:-500}"
WORK="$(mktemp -d -t crm_migration_bench.XXXXXX)"
SERVER_PID=""
trap '[ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
      for db in "${DBS[@]}"; do dropdb --if-exists "$db" >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
DBS=()
PHASES=" ${BENCH_PHASES:-load patients clinic rollback queue} "

mkdir -p "$WORK/addons/crm_migration"
tar -C "$REPO_DIR" --exclude=.git -cf - . | tar -C "$WORK/addons/crm_migration" -xf -
cat > "$WORK/odoo.conf" <<CONF
[options]
addons_path = $(odoo_addons_path "$WORK/addons")
data_dir = $WORK/data
log_level = warn
CONF
"$ODOO_PY" "$REPO_DIR/bench/clinic_export.py" "$WORK/export" --patients "$PATIENTS" >/dev/null
echo "export: $(du -sh "$WORK/export" | cut -f1), $(($(wc -l < "$WORK/export/patients.csv") - 1)) patients," \
     "$(($(wc -l < "$WORK/export/appointments.csv") - 1)) appointments; batch $BATCH"

template="crm_migration_bench_$$"
DBS+=("$template")
odoo_cmd -c "$WORK/odoo.conf" -d "$template" -i crm_migration --stop-after-init >/dev/null 2>&1 \
    || die "installing the addon for the benchmark failed"

[[ "$PHASES" =~ \ (load|patients|clinic|rollback)\  ]] && \
    printf '%-10s %9s %7s %9s %10s %8s %12s %14s\n' phase records failed seconds "records/s" "x load" \
        "queries/rec" "peak RSS MiB"
BASELINE=""
for phase in load patients clinic rollback; do
    [[ "$PHASES" == *" $phase "* ]] || continue
    db="${template}_$phase"
    DBS+=("$db")
    createdb -T "$template" "$db"
    line="$("$ODOO_PY" "$REPO_DIR/bench/bench_phase.py" "$phase" "$WORK/odoo.conf" "$db" "$WORK/export" "$BATCH" \
        2>"$WORK/$phase.log" | tail -1)" || { tail -20 "$WORK/$phase.log"; die "phase $phase failed"; }
    [ -n "$BASELINE" ] || BASELINE="$line"
    "$ODOO_PY" - "$line" "$BASELINE" <<'PY'
import json, sys
r, base = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print('%-10s %9d %7d %9.1f %10.1f %7.2fx %12.2f %14.1f' % (
    r['phase'], r['records'], r['failed'], r['seconds'], r['records_per_s'],
    r['records_per_s'] / base['records_per_s'], r['queries_per_record'], r['peak_rss_mib']))
PY
done

# ---------------------------------------------------------------------------
# queue: the same clinic full run processed by queue_job workers of a real server.
[[ "$PHASES" == *" queue "* ]] || exit 0
if ! "$ODOO_PY" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("odoo.addons.queue_job"))' 2>/dev/null; then
    echo "queue: skipped, OCA queue_job is not installed (scripts/setup.sh installs it)"
    exit 0
fi
queue_db="${template}_queue"
DBS+=("$queue_db")
createdb -T "$template" "$queue_db"
odoo_cmd -c "$WORK/odoo.conf" -d "$queue_db" -i queue_job --stop-after-init >"$WORK/queue_install.log" 2>&1 \
    || { tail -20 "$WORK/queue_install.log"; die "installing queue_job for the benchmark failed"; }
project="$("$ODOO_PY" "$REPO_DIR/bench/bench_phase.py" queue_prepare "$WORK/odoo.conf" "$queue_db" "$WORK/export" \
    "$BATCH" 2>"$WORK/queue_prepare.log" | tail -1)" || { tail -20 "$WORK/queue_prepare.log"; die "queue_prepare failed"; }
project_id="$("$ODOO_PY" -c 'import json, sys; print(json.loads(sys.argv[1])["project_id"])' "$project")"
printf '\n%-10s %7s %9s %7s %9s %10s %9s %7s\n' phase workers records failed seconds "records/s" batches "x 1 wkr"
ONE=""
for capacity in 1 2; do
    db="${queue_db}_$capacity"
    DBS+=("$db")
    createdb -T "$queue_db" "$db"
    # The uploaded files are in the filestore, which a database copy does not take along.
    cp -r "$WORK/data/filestore/$queue_db" "$WORK/data/filestore/$db"
    port="$("$ODOO_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # One HTTP worker per job the channel runs at once; no cron thread: only the jobs work.
    cat > "$WORK/queue_$capacity.conf" <<CONF
[options]
addons_path = $(odoo_addons_path "$WORK/addons")
data_dir = $WORK/data
db_name = $db
dbfilter = ^$db\$
http_interface = 127.0.0.1
http_port = $port
workers = $capacity
max_cron_threads = 0
server_wide_modules = base,web,queue_job
limit_time_real = 600
limit_time_cpu = 300
log_level = warn
logfile = $WORK/queue_$capacity.log

[queue_job]
channels = root:$capacity,root.crm_migration:$capacity
CONF
    if [ -n "$ODOO_BIN" ]; then
        "$ODOO_PY" "$ODOO_BIN" -c "$WORK/queue_$capacity.conf" 2>>"$WORK/queue_$capacity.log" &
    else
        "$ODOO_PY" -c 'import sys, odoo.cli; sys.argv[0] = "odoo"; odoo.cli.main()' -c "$WORK/queue_$capacity.conf" \
            2>>"$WORK/queue_$capacity.log" &
    fi
    SERVER_PID=$!
    for _i in $(seq 1 120); do
        "$ODOO_PY" -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/web/health" % sys.argv[1], timeout=2)' \
            "$port" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/queue_$capacity.log"; die "the Odoo server stopped"; }
        sleep 1
    done
    line="$("$ODOO_PY" "$REPO_DIR/bench/bench_phase.py" queue_run "$WORK/queue_$capacity.conf" "$db" "$WORK/export" \
        "$project_id" 2>"$WORK/queue_run_$capacity.log" | tail -1)" \
        || { tail -20 "$WORK/queue_run_$capacity.log" "$WORK/queue_$capacity.log"; die "queue phase ($capacity) failed"; }
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    [ -n "$ONE" ] || ONE="$line"
    "$ODOO_PY" - "$line" "$ONE" "$capacity" <<'PY'
import json, sys
r, one, workers = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
assert r['failed_jobs'] == 0, "%d jobs failed" % r['failed_jobs']
print('%-10s %7d %9d %7d %9.1f %10.1f %9d %6.2fx' % (
    'queue', workers, r['records'], r['failed'], r['seconds'], r['records_per_s'], r['batches'],
    r['records_per_s'] / one['records_per_s']))
PY
done
