#!/usr/bin/env bash
# Shared by setup.sh, demo.sh and test.sh: locate Odoo 19 and its Python.
#
# Odoo is found, in order, from:
#   1. ODOO_PATH          an Odoo 19 source tree (the folder holding odoo-bin)
#   2. an importable odoo  in ODOO_PYTHON, or python3 on PATH
#   3. /opt/odoo19, /opt/odoo, /usr/lib/python3/dist-packages (common installs)
# Its Python is ODOO_PYTHON, else <tree>/.venv/bin/python, else python3.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "crm_migration: $*" >&2; exit 2; }

_odoo_version_ok() {  # $1 = python, $2 = tree (may be empty)
    local py="$1" tree="$2"
    PYTHONPATH="${tree}${PYTHONPATH:+:$PYTHONPATH}" "$py" - <<'PY' 2>/dev/null
import sys
try:
    from odoo import release
    import lxml, psycopg2, werkzeug  # noqa: F401  (a usable Odoo, not just its sources)
except Exception:
    sys.exit(1)
sys.exit(0 if release.version_info[0] == 19 else 3)
PY
}

find_odoo() {
    ODOO_TREE=""
    local candidates=()
    [ -n "${ODOO_PATH:-}" ] && candidates+=("$ODOO_PATH")
    candidates+=("")  # an importable odoo
    candidates+=(/opt/odoo19 /opt/odoo /usr/lib/python3/dist-packages)
    for tree in "${candidates[@]}"; do
        if [ -n "$tree" ] && [ ! -d "$tree/odoo" ]; then
            continue
        fi
        local py="${ODOO_PYTHON:-}"
        if [ -z "$py" ]; then
            if [ -n "$tree" ] && [ -x "$tree/.venv/bin/python" ]; then
                py="$tree/.venv/bin/python"
            else
                py="$(command -v python3 || true)"
            fi
        fi
        [ -n "$py" ] || continue
        if [ -n "$tree" ] && [ -f "$tree/odoo/release.py" ] && ! grep -q "version_info = (19" "$tree/odoo/release.py"; then
            continue
        fi
        if [ -z "$tree" ]; then
            if _odoo_version_ok "$py" ""; then
                ODOO_TREE="$("$py" -c 'import odoo, os; print(os.path.dirname(list(odoo.__path__)[0]))')"
                ODOO_PY="$py"
                return 0
            fi
            continue
        fi
        ODOO_TREE="$tree"
        ODOO_PY="$py"
        return 0
    done
    return 1
}

require_odoo() {
    if ! find_odoo; then
        die "no Odoo 19 found. Set ODOO_PATH to an Odoo 19.0 source tree (the folder with odoo-bin),
or make 'import odoo' work in python3 / ODOO_PYTHON. See README.rst, 'Installation'."
    fi
    export PYTHONPATH="$ODOO_TREE${PYTHONPATH:+:$PYTHONPATH}"
    ODOO_BIN="$ODOO_TREE/odoo-bin"
    [ -f "$ODOO_BIN" ] || ODOO_BIN=""
}

odoo_cmd() {  # run Odoo's server entry point with the right Python
    if [ -n "$ODOO_BIN" ]; then
        "$ODOO_PY" "$ODOO_BIN" "$@"
    else
        "$ODOO_PY" -c 'import sys, odoo.cli; sys.argv[0] = "odoo"; odoo.cli.main()' "$@"
    fi
}

odoo_addons_path() {  # $1 = extra folder in front
    local paths="$1"
    [ -d "$ODOO_TREE/addons" ] && paths="$paths,$ODOO_TREE/addons"
    [ -d "$ODOO_TREE/odoo/addons" ] && paths="$paths,$ODOO_TREE/odoo/addons"
    echo "$paths"
}

ensure_postgres() {
    if command -v pg_isready >/dev/null && pg_isready -q 2>/dev/null; then
        :
    else
        if ! command -v pg_ctlcluster >/dev/null && ! command -v pg_ctl >/dev/null; then
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "crm_migration: installing PostgreSQL (apt)" >&2
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
            else
                die "PostgreSQL is not installed and cannot be installed here (need root and apt-get)."
            fi
        fi
        if [ "$(id -u)" = 0 ] && command -v service >/dev/null; then
            service postgresql start >/dev/null 2>&1 || true
        fi
        for _i in $(seq 1 30); do
            pg_isready -q 2>/dev/null && break
            sleep 1
        done
        pg_isready -q 2>/dev/null || die "PostgreSQL is not running and could not be started."
    fi
    # Odoo connects as the current OS user over the local socket.
    if ! psql -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            su postgres -c "psql -q -c \"CREATE ROLE \\\"$(id -un)\\\" SUPERUSER LOGIN\"" >/dev/null
        else
            die "PostgreSQL has no role for $(id -un): run 'sudo -u postgres createuser -s $(id -un)'."
        fi
    fi
}

free_port() {  # a TCP port nobody listens on right now (the kernel picks it)
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

ensure_chromium() {  # Odoo's HttpCase looks for google-chrome, chromium or chromium-browser on PATH
    local bin
    for bin in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$bin" >/dev/null && return 0
    done
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "crm_migration: installing Chromium for the browser tests (apt-get install chromium)" >&2
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/tmp/crm_migration_chromium.log 2>&1; then
            # A fresh container has no package lists yet.
            DEBIAN_FRONTEND=noninteractive apt-get update -q >>/tmp/crm_migration_chromium.log 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>/tmp/crm_migration_chromium.log 2>&1 \
                || { tail -5 /tmp/crm_migration_chromium.log >&2
                     die "Chromium could not be installed with apt-get (log /tmp/crm_migration_chromium.log);
install chromium or google-chrome yourself: the browser tests need it."; }
        fi
        command -v chromium >/dev/null && return 0
    fi
    die "no Chromium or Google Chrome on PATH and none can be installed here (need root and apt-get):
install Debian's chromium (apt-get install chromium): the browser tests need it."
}

write_odoo_conf() {  # $1 = work folder (holding addons/), then extra "key = value" lines
    local work="$1"
    shift
    {
        echo "[options]"
        echo "addons_path = $(odoo_addons_path "$work/addons")"
        echo "data_dir = $work/data"
        echo "http_interface = 127.0.0.1"
        printf '%s\n' "$@"
    } > "$work/odoo.conf"
}
