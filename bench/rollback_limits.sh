#!/usr/bin/env bash
# Limits benchmark: a real Odoo server in prefork mode, with Odoo's default limits, audits,
# loads and rolls back a clinic export through its cron, and nothing may hit a limit.
#
#   bench/rollback_limits.sh [PATIENTS] [BATCH]      (defaults: 10000 patients, batches of 500)
#
# The server runs with --workers=2 --max-cron-threads=1 and Odoo's defaults written out:
# limit_time_real=120, limit_time_cpu=60, limit_memory_soft=2048 MiB, limit_memory_hard=2560 MiB.
# The runs are queued as the buttons queue them; all the work happens in the server's cron
# worker, in time-boxed steps.  Afterwards the server log is searched for a killed worker
# ("virtual real time limit", "timeout after", "CPU time limit", "memory limit") and for
# "Traceback".  Prints rows/s of each phase, the peak RSS (and VMS, what limit_memory_*
# compare with) of the workers, then PASS or FAIL; exits 1 on FAIL.
source "$(dirname "$0")/../scripts/common.sh"
require_odoo
ensure_postgres

PATIENTS="${1:-10000}"
BATCH="${2:-500}"
TIMEOUT="${BENCH_TIMEOUT:-5400}"  # seconds per phase before it counts as failed
WORK="$(mktemp -d -t crm_migration_limits.XXXXXX)"
DB="crm_migration_limits_$$"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _i in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/addons/crm_migration"
tar -C "$REPO_DIR" --exclude=.git --exclude='__pycache__' -cf - . | tar -C "$WORK/addons/crm_migration" -xf -
write_odoo_conf "$WORK" "db_name = $DB" "log_level = info" "list_db = False"

"$ODOO_PY" "$REPO_DIR/bench/clinic_export.py" "$WORK/export" --patients "$PATIENTS" >/dev/null
echo "export: $(du -sh "$WORK/export" | cut -f1), $(($(wc -l < "$WORK/export/patients.csv") - 1)) patients," \
     "$(($(wc -l < "$WORK/export/appointments.csv") - 1)) appointments; batch $BATCH"

odoo_cmd -c "$WORK/odoo.conf" -d "$DB" -i crm_migration --stop-after-init --log-level=warn \
    > "$WORK/install.log" 2>&1 || { tail -30 "$WORK/install.log"; die "installing the addon failed"; }
setup="$("$ODOO_PY" "$REPO_DIR/bench/limits_driver.py" setup "$WORK/odoo.conf" "$DB" "$WORK/export" "$BATCH" \
    2>"$WORK/setup.log" | tail -1)" || { tail -30 "$WORK/setup.log"; die "setting the project up failed"; }
echo "project: $setup"

# Odoo's defaults, spelled out so that a changed default cannot make the bench easier.
odoo_cmd -c "$WORK/odoo.conf" -d "$DB" --db-filter="^$DB\$" \
    --workers=2 --max-cron-threads=1 \
    --limit-time-real=120 --limit-time-cpu=60 \
    --limit-memory-soft=$((2048 * 1024 * 1024)) --limit-memory-hard=$((2560 * 1024 * 1024)) \
    --http-port="$(free_port)" --gevent-port="$(free_port)" \
    --logfile="$WORK/server.log" &
SERVER_PID=$!
for _i in $(seq 1 120); do
    grep -q "Worker WorkerCron .* alive" "$WORK/server.log" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -30 "$WORK/server.log"; die "the server did not start"; }
    sleep 1
done
grep -q "Worker WorkerCron .* alive" "$WORK/server.log" || die "no cron worker started (log: $WORK/server.log)"

printf '%-9s %-7s %9s %9s %10s %14s %14s\n' phase state records seconds "records/s" "peak RSS MiB" "peak VMS MiB"
status=0
RESULTS=()
for phase in audit full rollback; do
    line="$("$ODOO_PY" "$REPO_DIR/bench/limits_driver.py" "$phase" "$WORK/odoo.conf" "$DB" "$SERVER_PID" \
        "$TIMEOUT" 2>"$WORK/$phase.log" | tail -1)" || { tail -20 "$WORK/$phase.log"; die "phase $phase failed"; }
    RESULTS+=("$line")
    "$ODOO_PY" - "$line" <<'PY' || status=1
import json, sys
r = json.loads(sys.argv[1])
print('%-9s %-7s %9d %9.1f %10.1f %14.1f %14.1f' % (
    r['phase'], r['state'], r['records'], r['seconds'], r['records_per_s'] or 0, r['peak_rss_mib'], r['peak_vms_mib']))
if r['state'] != 'done':
    print('  %s did not finish: %s' % (r['phase'], r['message']))
    sys.exit(1)
if r['phase'] == 'audit':
    print('  %s issues' % r['issues'])
if r['phase'] == 'full':
    print('  created %d, failed %d' % (r['created'], r['failed']))
if r['phase'] == 'rollback':
    print('  leads left after the rollback: %d' % r['leads_left'])
    sys.exit(1 if r['leads_left'] else 0)
PY
done

# What Odoo prints when it kills a worker on a limit (threaded and prefork wordings), and any traceback.
PATTERNS='virtual real time limit|timeout after|CPU time limit|memory limit|Traceback'
if grep -E "$PATTERNS" "$WORK/server.log" > "$WORK/limits.txt"; then
    echo "server log: $(wc -l < "$WORK/limits.txt") lines match /$PATTERNS/:"
    head -20 "$WORK/limits.txt"
    status=1
else
    echo "server log: no line matches /$PATTERNS/ ($(wc -l < "$WORK/server.log") lines)"
fi
echo "cron steps: $(grep -c 'crm_migration run [0-9]*: ' "$WORK/server.log") batches logged," \
     "longest $(grep -oE 'rows in [0-9.]+s' "$WORK/server.log" | grep -oE '[0-9.]+' | sort -n | tail -1) s"
if [ "$status" -eq 0 ]; then
    echo "PASS"
else
    echo "FAIL (server log kept in $WORK: KEEP_WORK=1 keeps the folder)"
    cp "$WORK/server.log" "/tmp/crm_migration_limits_$$.log" 2>/dev/null && echo "copy: /tmp/crm_migration_limits_$$.log"
fi
exit "$status"
