# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Source-side code: readers, converters and the row mapper.

Nothing in this package imports ``odoo`` so it can be tested, profiled and
reused without a database (see ``tests/test_connectors_*``).
"""
from . import exceptions, converters, tabular, mapper  # noqa: F401
