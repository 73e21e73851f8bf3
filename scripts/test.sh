#!/usr/bin/env bash
# Run every test of crm_migration inside a real Odoo 19: a fresh database,
# the addon installed, then pytest-odoo.  Exits non-zero on any failure,
# when no test ran, or when no Odoo is found.
#
#   scripts/test.sh [pytest args...]    e.g. scripts/test.sh -k rollback
source "$(dirname "$0")/common.sh"

"$(dirname "$0")/setup.sh"  # PostgreSQL, Python packages; exits with a clear message without Odoo
require_odoo
ensure_chromium  # the tours (tests/test_tour.py) drive a headless Chromium

WORK="$(mktemp -d -t crm_migration_test.XXXXXX)"
DB="crm_migration_test_$$"
cleanup() {
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    dropdb --if-exists "${DB}_scratch" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# pytest-odoo names the module after its folder, and CI clones the repo
# under another name: expose a copy as crm_migration.
mkdir -p "$WORK/addons/crm_migration"
tar -C "$REPO_DIR" --exclude=.git --exclude='__pycache__' --exclude='.pytest_cache' -cf - . \
    | tar -C "$WORK/addons/crm_migration" -xf -
# Several test runs may share this machine: each takes its own free HTTP port
# (the tours' HttpCase serves on it).
write_odoo_conf "$WORK" "db_name = $DB" "log_level = warn" "http_port = $(free_port)"

# OCA queue_job is optional for crm_migration: when Odoo's Python has it (scripts/setup.sh
# installs it), it is installed too, so tests/test_queue_job.py runs batches as jobs; the
# other tests keep the cron path (crm_migration.use_queue_job is "auto": no job runner here).
MODULES=crm_migration
if PYTHONPATH="$ODOO_TREE" "$ODOO_PY" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("odoo.addons.queue_job"))' 2>/dev/null; then
    MODULES=crm_migration,queue_job
fi

echo "crm_migration: Odoo $ODOO_TREE, database $DB, modules $MODULES" >&2
dropdb --if-exists "$DB" >/dev/null 2>&1 || true
if ! odoo_cmd -c "$WORK/odoo.conf" -d "$DB" -i "$MODULES" --stop-after-init \
        > "$WORK/install.log" 2>&1; then
    tail -50 "$WORK/install.log" >&2
    die "installing crm_migration in a fresh database failed (log above)."
fi
if grep -E " (ERROR|CRITICAL) " "$WORK/install.log" >&2; then
    die "installing crm_migration logged errors (above)."
fi

# tests/test_crash_resume.py kills a separate Odoo process: it works on copies
# of this pristine database, taken before pytest connects to it.
dropdb --if-exists "${DB}_scratch" >/dev/null 2>&1 || true
createdb -T "$DB" "${DB}_scratch"
export CRM_MIGRATION_SCRATCH_DB="${DB}_scratch"

cd "$WORK/addons/crm_migration"
set +e
"$ODOO_PY" -m pytest -p no:cacheprovider -rfEs --odoo-http \
    --odoo-config="$WORK/odoo.conf" --odoo-database="$DB" "${@:-tests}" 2>&1 | tee "$WORK/pytest.log"
status=${PIPESTATUS[0]}
set -e
# A skipped browser test tested nothing (no Chromium, no websocket-client, no devtools): fail.
if grep -E "^SKIPPED .*(HttpCase|[Cc]hrom|websocket|devtools)" "$WORK/pytest.log" >&2; then
    die "a browser test was skipped (above): that is a failure, not a pass."
fi
if [ "$status" -eq 5 ]; then
    die "pytest collected no test: that is a failure, not a pass."
fi
exit "$status"
