#!/usr/bin/env bash
# Set up everything crm_migration needs around an existing Odoo 19:
# PostgreSQL (installed with apt when missing, started, a role for this
# user) and the Python packages, installed into Odoo's Python.
# If Odoo's tree has no .venv and 'import odoo' fails, a .venv is made in
# the tree with Odoo's own requirements.txt.
source "$(dirname "$0")/common.sh"

ensure_postgres

if ! find_odoo; then
    require_odoo  # prints the message and exits
fi

if ! PYTHONPATH="$ODOO_TREE" "$ODOO_PY" -c 'import odoo.addons.base, psycopg2, lxml, werkzeug' 2>/dev/null \
        && [ -f "$ODOO_TREE/requirements.txt" ]; then
    if [ ! -x "$ODOO_TREE/.venv/bin/python" ]; then
        echo "crm_migration: creating $ODOO_TREE/.venv" >&2
        python3 -m venv "$ODOO_TREE/.venv"
    fi
    ODOO_PY="$ODOO_TREE/.venv/bin/python"
    "$ODOO_PY" -m pip install -q --upgrade pip wheel packaging >&2
    # Odoo pins per Python version; on 3.11 the 3.12 pins install cleanly
    # where the 3.11 ones need old compilers.  python-ldap, pyusb and
    # pyserial are only for LDAP and IoT hardware.
    "$ODOO_PY" - "$ODOO_TREE/requirements.txt" > "$ODOO_TREE/.venv/odoo-requirements.txt" <<'PY'
import re, sys
from packaging.markers import Marker
chosen = {}
env = {'python_version': '3.12', 'sys_platform': sys.platform, 'python_full_version': '3.12.0'}
for line in open(sys.argv[1]):
    spec = line.split('#')[0].strip()
    if not spec:
        continue
    requirement, _, marker = spec.partition(';')
    name = re.split(r'[=<>!~ \[]', requirement.strip())[0].lower()
    if name in ('python-ldap', 'pyusb', 'pyserial', 'pypiwin32', 'rl-renderpm'):
        continue
    if marker and not Marker(marker).evaluate(env):
        continue
    chosen[name] = requirement.strip()
if 'pypdf2' not in chosen and 'pypdf' in chosen:
    chosen['pypdf2'] = 'PyPDF2==2.12.1'  # Odoo 19 on Python < 3.13 imports PyPDF2
chosen.pop('pypdf', None)
print('\n'.join(chosen.values()))
PY
    "$ODOO_PY" -m pip install -q -r "$ODOO_TREE/.venv/odoo-requirements.txt" >&2
fi

"$ODOO_PY" -m pip install -q -r "$REPO_DIR/requirements.txt" >&2 2>/dev/null \
    || "$ODOO_PY" -m pip install -r "$REPO_DIR/requirements.txt"
# OCA queue_job is optional (README, "Scale-out with queue_job"): installed here so that the
# tests and the bench cover full runs as parallel jobs.  CRM_MIGRATION_NO_QUEUE_JOB=1 skips it.
# Odoo runs from its source tree, not as a pip distribution: the wheel's requirement
# "odoo==19.0.*" would fetch Odoo from PyPI, hence --no-deps and its one other need by hand.
if [ -z "${CRM_MIGRATION_NO_QUEUE_JOB:-}" ] \
        && ! PYTHONPATH="$ODOO_TREE" "$ODOO_PY" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("odoo.addons.queue_job"))' 2>/dev/null; then
    "$ODOO_PY" -m pip install -q --no-deps 'odoo-addon-queue-job>=19.0,<19.1' >&2 \
        && "$ODOO_PY" -m pip install -q openupgradelib >&2 \
        || echo "crm_migration: queue_job could not be installed; runs keep the cron." >&2
fi
echo "crm_migration: Odoo $ODOO_TREE with $ODOO_PY, PostgreSQL ready." >&2
