# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import json

from odoo import fields, models
from odoo.exceptions import UserError

from ..services import actions, templates


class CrmMigrationMappingImport(models.TransientModel):
    """Reuse a mapping exported from another project (same source system)."""
    _name = 'crm.migration.mapping.import'
    _description = 'CRM Migration: import a mapping'

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade')
    mapping_file = fields.Binary(required=True)
    filename = fields.Char()

    def action_import(self):
        self.ensure_one()
        project = self.project_id
        if project.record_ids.filtered(lambda r: r.operation in ('created', 'updated', 'linked')):
            raise UserError(self.env._("Roll back the project's records before replacing its mapping."))
        try:
            data = json.loads(base64.b64decode(self.mapping_file))
            templates.import_mapping(project, data)
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(self.env._("This file is not a mapping exported by CRM Migration: %s", error)) from error
        project._mapping_changed()
        return actions.form_action(project._name, project.id)
