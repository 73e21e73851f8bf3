# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo-side services used by the models: templates, file binding, schema
(custom fields and their views), the batch loader and the rollback.
Modules are imported where used, so that models and services don't import
each other at package load."""
