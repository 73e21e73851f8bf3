#!/usr/bin/env bash
# Build the addon's wheel and install it the way an administrator does, into a
# fresh venv-based Odoo, then install crm_migration from it in a scratch database.
#
#   scripts/check_wheel.sh [wheel-dir]     (the wheel is left in wheel-dir, default dist/)
#
# The venv is new; Odoo's Python packages come from the Odoo found by common.sh
# (a .pth line, so nothing is downloaded twice), and Odoo itself is installed in
# it with `pip install -e` as OCA's CI images do, from a hard-linked copy of the
# tree (the original tree is not written to).  The addons path is Odoo's own
# addons only: the checkout is not on it, so crm_migration can only come from the
# wheel, in the venv's site-packages/odoo/addons/crm_migration.
source "$(dirname "$0")/common.sh"

require_odoo
OUT="${1:-$REPO_DIR/dist}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d -t crm_migration_wheel.XXXXXX)"
DB="crm_migration_wheel_$$"
cleanup() {
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "crm_migration: building the wheel (pip wheel .)" >&2
rm -f "$OUT"/odoo_addon_crm_migration-*.whl
(cd "$REPO_DIR" && "$ODOO_PY" -m pip wheel -q --no-deps -w "$OUT" .) >&2
WHEEL="$(ls "$OUT"/odoo_addon_crm_migration-*.whl 2>/dev/null | head -1)"
[ -n "$WHEEL" ] || die "pip wheel . made no odoo_addon_crm_migration-*.whl in $OUT."
echo "crm_migration: built $(basename "$WHEEL")" >&2

echo "crm_migration: a fresh venv with Odoo installed in it (pip install -e)" >&2
cp -al "$ODOO_TREE" "$WORK/odoo" 2>/dev/null || cp -a "$ODOO_TREE" "$WORK/odoo"
rm -rf "$WORK/odoo/.venv" "$WORK/odoo/odoo.egg-info" "$WORK/odoo/build"
"$ODOO_PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
deps="$("$ODOO_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
site="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# Odoo's requirements from the existing environment, after the venv's own packages.
echo "$deps" > "$site/zz_odoo_requirements.pth"
# The existing environment may hold other odoo/addons wheels: they are not this venv's.
if [ -d "$deps/odoo/addons" ]; then
    "$VPY" - "$deps" <<'PY'
import os, sys
# Fail loudly rather than test against an addon of the other environment.
sys.exit(1 if os.path.isdir(os.path.join(sys.argv[1], 'odoo', 'addons', 'crm_migration')) else 0)
PY
fi
(cd "$WORK/odoo" && "$VPY" -m pip install -q --no-deps --no-build-isolation -e .) >&2
PYTHONPATH= "$VPY" -m pip install -q "$WHEEL" >&2

echo "crm_migration: checking the installed addon" >&2
PYTHONPATH= "$VPY" - "$site" <<'PY' || die "the wheel did not install odoo/addons/crm_migration in the venv."
import ast, os, sys
import odoo.addons.crm_migration as addon
path = os.path.dirname(addon.__file__)
expected = os.path.join(sys.argv[1], 'odoo', 'addons', 'crm_migration')
assert os.path.realpath(path) == os.path.realpath(expected), (path, expected)
manifest = ast.literal_eval(open(os.path.join(path, '__manifest__.py')).read())
print(f"crm_migration: {manifest['name']} {manifest['version']} in {path}", file=sys.stderr)
PY

addons="$WORK/odoo/addons"
cat > "$WORK/odoo.conf" <<EOF
[options]
addons_path = $addons
data_dir = $WORK/data
http_interface = 127.0.0.1
log_level = warn
EOF
dropdb --if-exists "$DB" >/dev/null 2>&1 || true
echo "crm_migration: installing crm_migration from the wheel in database $DB" >&2
if ! (cd "$WORK" && PYTHONPATH= "$VPY" "$WORK/odoo/odoo-bin" -c "$WORK/odoo.conf" -d "$DB" \
        -i crm_migration --stop-after-init > "$WORK/install.log" 2>&1); then
    tail -40 "$WORK/install.log" >&2
    die "installing crm_migration from the wheel failed (log above)."
fi
if grep -E " (ERROR|CRITICAL) " "$WORK/install.log" >&2; then
    die "installing crm_migration from the wheel logged errors (above)."
fi
state="$(psql -d "$DB" -tAc "select state from ir_module_module where name = 'crm_migration'")"
[ "$state" = installed ] || die "crm_migration is '$state' in $DB, not installed."
echo "crm_migration: $(basename "$WHEEL") installs in a fresh venv-based Odoo (module state: $state)." >&2
