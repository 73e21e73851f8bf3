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
source "$(dirname "$0")/../scripts/common.sh"
require_odoo

PATIENTS="${1:-5000}"
BATCH="${2:-500}"
WORK="$(mktemp -d -t crm_migration_bench.XXXXXX)"
trap 'for db in "${DBS[@]}"; do dropdb --if-exists "$db" >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
DBS=()

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

printf '%-10s %9s %7s %9s %10s %8s %12s %14s\n' phase records failed seconds "records/s" "x load" \
    "queries/rec" "peak RSS MiB"
BASELINE=""
for phase in load patients clinic rollback; do
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
