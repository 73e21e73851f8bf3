#!/usr/bin/env bash
# The main job: Odoo 19 with crm_migration on database crm_migration_demo,
# where a demo clinic project has been migrated from the sample export in
# demo/clinic.  Open http://localhost:8069 (admin / admin) > Migration.
#
#   scripts/demo.sh                 create the database if needed, then serve
#   DEMO_DB=name scripts/demo.sh    another database name
#   scripts/demo.sh --stop-after-init   build the database and exit
source "$(dirname "$0")/common.sh"

"$(dirname "$0")/setup.sh"
require_odoo

DB="${DEMO_DB:-crm_migration_demo}"
WORK="${DEMO_DIR:-$HOME/.crm_migration_demo}"
mkdir -p "$WORK/addons"
# Odoo needs the addon's folder to be named crm_migration.
ln -sfn "$REPO_DIR" "$WORK/addons/crm_migration"
write_odoo_conf "$WORK" "http_port = ${DEMO_PORT:-8069}"

if ! psql -d "$DB" -tAc "select 1 from ir_module_module where name = 'crm_migration' and state = 'installed'" \
        2>/dev/null | grep -q 1; then
    echo "crm_migration: creating $DB with demo data (the demo clinic is migrated during install)" >&2
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    odoo_cmd -c "$WORK/odoo.conf" -d "$DB" -i crm_migration --with-demo --stop-after-init
    psql -d "$DB" -tAc "select 'demo project: ' || name->>'en_US' || ', ' || state from crm_migration_project" 2>/dev/null \
        || psql -d "$DB" -tAc "select 'demo project: ' || name || ', ' || state from crm_migration_project"
fi
if [ "${1:-}" = "--stop-after-init" ]; then
    exit 0
fi
echo "crm_migration: serving $DB on http://127.0.0.1:${DEMO_PORT:-8069} (admin / admin)" >&2
exec_args=(-c "$WORK/odoo.conf" -d "$DB" --db-filter="^$DB\$")
odoo_cmd "${exec_args[@]}"
