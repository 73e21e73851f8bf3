# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..services import actions
from ..services.constants import DATA_READERS


class CrmMigrationDiff(models.Model):
    """One field of one sampled record: source value, mapped value, value read back from Odoo."""
    _name = 'crm.migration.diff'
    _description = 'CRM Migration Sample Diff'
    _inherit = ['crm.migration.res.model.mixin']
    _order = 'run_id, object_id, source_id, id'

    run_id = fields.Many2one('crm.migration.run', required=True, ondelete='cascade', index=True)
    project_id = fields.Many2one(related='run_id.project_id', store=True)
    company_id = fields.Many2one(related='run_id.company_id', store=True)
    object_id = fields.Many2one('crm.migration.object', required=True, ondelete='cascade')
    source_id = fields.Char(required=True)
    res_model = fields.Char(required=True)
    res_id = fields.Many2oneReference(model_field='res_model')
    field_name = fields.Char(required=True)
    field_label = fields.Char()
    source_value = fields.Text(groups=DATA_READERS)
    mapped_value = fields.Text(groups=DATA_READERS)
    odoo_value = fields.Text('Value in Odoo', groups=DATA_READERS)
    equal = fields.Boolean(index=True)
    reason = fields.Char(help="Why the value in Odoo differs: truncated, rounded, timezone, selection...")

    def action_open_target(self):
        self.ensure_one()
        return actions.form_action(self.res_model, self.res_id)
