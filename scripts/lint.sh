#!/usr/bin/env bash
# The lint step: OCA's pre-commit hooks (.pre-commit-config.yaml) on every file
# under git control.  Exits non-zero on any finding, and when a hook had to fix
# a file (the fix is left in the work tree: review it and commit it).
#
#   scripts/lint.sh                 all hooks, all files
#   scripts/lint.sh pylint_odoo     one hook (pre-commit run's own arguments)
#
# pre-commit itself lives in a tools venv outside the checkout
# (CRM_MIGRATION_TOOLS, default ~/.cache/crm_migration/tools); the hooks'
# environments (pylint-odoo, ruff, OCA's odoo-pre-commit-hooks from PyPI,
# prettier from npm) are pre-commit's own, in ~/.cache/pre-commit.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRE_COMMIT_VERSION="4.7.0"
TOOLS="${CRM_MIGRATION_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/crm_migration/tools}"

if ! "$TOOLS/bin/pre-commit" --version 2>/dev/null | grep -qx "pre-commit $PRE_COMMIT_VERSION"; then
    echo "crm_migration: installing pre-commit $PRE_COMMIT_VERSION in $TOOLS" >&2
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install -q "pre-commit==$PRE_COMMIT_VERSION" >&2
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "crm_migration: installing Node.js and npm (apt) for prettier" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
    else
        echo "crm_migration: the prettier hook needs node and npm on PATH." >&2
        exit 2
    fi
fi

cd "$REPO_DIR"
exec "$TOOLS/bin/pre-commit" run --all-files --show-diff-on-failure --color=never "$@"
