# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class CrmMigrationIssue(models.Model):
    """Mapping findings (services/mapping_audit.py): a required line waiting for its column."""
    _inherit = 'crm.migration.issue'

    kind = fields.Selection(selection_add=[('missing_column', 'Column to choose')],
                            ondelete={'missing_column': 'cascade'})

    def action_open_mapping_line(self):
        """Column to choose: the mapping line the issue is about, to pick its column and enable it."""
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window', 'res_model': 'crm.migration.field', 'res_id': self.res_id,
            'view_mode': 'form', 'target': 'new', 'name': self.env._("Choose the column"),
        }
