# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The written inventory of what does not migrate, for the administrator to rebuild.

The seeds promise it as a "JSON blueprint": automations, templates,
sequences, portals, web forms, custom actions and reports of the source
system, plus what this project leaves behind (objects not loaded and why,
columns no mapping line reads).
"""
from odoo import fields

from ..connectors.exceptions import ConnectorError
from . import schema
from .loader import active_lines

# The app to install for a target model that is missing.
MODEL_APPS = {
    'account.move': 'Invoicing (account)', 'account.payment': 'Invoicing (account)',
    'calendar.event': 'Calendar (calendar)', 'project.task': 'Project (project)',
    'sale.order': 'Sales (sale_management)', 'sale.order.line': 'Sales (sale_management)',
    'product.template': 'Sales (sale_management)', 'product.pricelist': 'Sales (sale_management)',
    'product.pricelist.item': 'Sales (sale_management)', 'hr.employee': 'Employees (hr)',
}


def build_inventory(project):
    template_items = project.env['crm.migration.project']._template_data(project.source_type).get('not_migrated', [])
    objects = []
    columns = []
    for obj in project.object_ids.sorted(lambda o: (o.sequence, o.id)):
        if not obj.model_installed:
            reason = 'target %s is not installed: install %s' % (
                obj.target_model, MODEL_APPS.get(obj.target_model, 'the app providing it'))
        elif not obj.enabled:
            reason = 'disabled in the project'
        elif not obj.attachment_id and project._is_file_source():
            reason = 'no file uploaded'
        else:
            reason = None
        if reason:
            objects.append({'object': obj.name, 'label': obj.label, 'target_model': obj.target_model,
                            'reason': reason})
        used = set(obj._key_columns())
        for line in active_lines(obj):
            used.update(line._source_list())
        for key, label in (obj.source_columns or []):
            if key not in used:
                columns.append({'object': obj.name, 'column': key, 'label': label})
    return {
        'project': project.name,
        'blueprints': _blueprints(project),
        'source_type': project.source_type,
        'generated_at': fields.Datetime.now(),
        'not_migrated': template_items,
        'objects_not_migrated': objects,
        'columns_not_migrated': columns,
        'custom_fields': schema.custom_field_manifest(project)['fields'],
    }


def _blueprints(project):
    """Source configuration read live from an API (Clio's rate hierarchy): what Odoo cannot load."""
    if project._is_file_source():
        return {}
    if not project.has_access('write'):
        # Reading the source uses the project's credentials: managers only.
        return {'not_read': 'a migration manager exports the inventory with the source configuration'}
    try:
        return project._get_source().blueprints()
    except ConnectorError as error:
        return {'unreadable': str(error)}
