# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""PEP 517 build backend: OCA's whool, with the addon named ``crm_migration``.

whool names the distribution after the folder holding ``__manifest__.py``
(``odoo-addon-<folder>``) and has no option to name it otherwise.  A checkout
is often called something else (``main``, the CI's clone folder, ``crm-migration``),
which would give ``odoo-addon-main`` and install ``odoo/addons/main``, an addon
Odoo would not know as crm_migration.  So every hook hands whool a path that ends
in ``crm_migration``: the checkout itself when it is already named so, else a
symbolic link to it in a temporary folder.  whool still reads the files under
git control and the git history (for the version) through that link, exactly as
it does from a checkout named crm_migration.

``pyproject.toml`` points here with ``backend-path = ["scripts"]``; whool's own
hooks do the work (the private ``_build_wheel``, ``_build_sdist`` and
``_get_metadata`` of whool 1.x, which takes the addon folder as an argument where
the public hooks use the current directory; whool is pinned below 2).
"""

import tempfile
from contextlib import contextmanager
from pathlib import Path

from whool import buildapi as _whool

ADDON_NAME = "crm_migration"


@contextmanager
def _addon_dir():
    """The source tree, as a path whose last part is the addon's name."""
    source = Path.cwd()
    if source.name == ADDON_NAME:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="crm_migration_build.") as tmp:
        link = Path(tmp) / ADDON_NAME
        link.symlink_to(source, target_is_directory=True)
        yield link


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with _addon_dir() as addon_dir:
        return _whool._build_wheel(addon_dir, Path(wheel_directory), editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    with _addon_dir() as addon_dir:
        name = _whool._build_wheel(addon_dir, Path(wheel_directory), editable=True)
        # whool links build/__editable__/odoo/addons/crm_migration to the folder it
        # was given; that may be the temporary link: point it at the checkout.
        source = Path.cwd()
        editable_link = source / "build" / "__editable__" / "odoo" / "addons" / ADDON_NAME
        if editable_link.is_symlink() and Path(editable_link.readlink()) != source:
            editable_link.unlink()
            editable_link.symlink_to(source, target_is_directory=True)
        return name


def build_sdist(sdist_directory, config_settings=None):
    with _addon_dir() as addon_dir:
        return _whool._build_sdist(addon_dir, Path(sdist_directory))


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    with _addon_dir() as addon_dir:
        metadata = _whool._get_metadata(addon_dir)
    return _whool._make_dist_info(metadata, Path(metadata_directory))


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel
