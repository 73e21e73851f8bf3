# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""OCA's ``oca-checks-odoo-module`` on this addon, whose manifest is at the repository root.

OCA's hook (odoo-pre-commit-hooks) looks for an addon's ``__manifest__.py`` in
the folders *below* the git top level, as in OCA's repositories of many addons,
and silently checks nothing when the manifest sits at the top itself.  This
runs the same checks on a copy of the addon's git files laid out as OCA's
repositories are (``<top>/crm_migration/__manifest__.py``), and reports the
findings with this repository's paths.  Arguments other than file names are
passed on (``--disable=...``).  Exit status 1 on any finding, as the hook's.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from oca_pre_commit_hooks import checks_odoo_module

ADDON_NAME = "crm_migration"


def main(argv):
    options = [arg for arg in argv if arg.startswith("-")]
    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
    files = subprocess.check_output(["git", "ls-files", "-z"], cwd=root, text=True).split("\0")
    with tempfile.TemporaryDirectory(prefix="crm_migration_oca_checks.") as tmp:
        os.mkdir(os.path.join(tmp, ".git"))  # the top level the hook looks for
        addon = os.path.join(tmp, ADDON_NAME)
        for name in files:
            source = os.path.join(root, name)
            if not name or not os.path.isfile(source):
                continue  # deleted in the work tree, not yet committed
            target = os.path.join(addon, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
        kwargs = {"files_or_modules": [os.path.join(addon, "__manifest__.py")], "no_exit": True, "no_verbose": True}
        for option in options:
            key, _, value = option.lstrip("-").partition("=")
            if key in ("disable", "enable"):
                kwargs[key] = set(filter(None, value.split(",")))
        errors = checks_odoo_module.run(**kwargs)
        for error in errors:
            # "<copy>/crm_migration/views/x.xml:3: ..." -> "views/x.xml:3: ..."
            text = str(error).replace(os.path.realpath(addon) + os.sep, "").replace(addon + os.sep, "")
            print(re.sub(r"^((?:\x1b\[[0-9;]*m)*)" + ADDON_NAME + "/", r"\1", text))
            print()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
