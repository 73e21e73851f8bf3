#!/usr/bin/env bash
# Regenerate i18n/crm_migration.pot from the code and views: a scratch
# database with the addon installed, then Odoo's own `i18n export`.
# Run it after changing any translatable string, and commit the .pot.
source "$(dirname "$0")/common.sh"

"$(dirname "$0")/setup.sh"
require_odoo

WORK="$(mktemp -d -t crm_migration_i18n.XXXXXX)"
DB="crm_migration_i18n_$$"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/addons"
ln -s "$REPO_DIR" "$WORK/addons/crm_migration"
write_odoo_conf "$WORK" "db_name = $DB" "log_level = warn"
odoo_cmd -c "$WORK/odoo.conf" -d "$DB" -i crm_migration --stop-after-init --without-demo=all >/dev/null
mkdir -p "$REPO_DIR/i18n"
odoo_cmd i18n export -c "$WORK/odoo.conf" -d "$DB" -o "$REPO_DIR/i18n/crm_migration.pot" crm_migration
echo "crm_migration: wrote i18n/crm_migration.pot ($(grep -c '^msgid' "$REPO_DIR/i18n/crm_migration.pot") strings)" >&2
