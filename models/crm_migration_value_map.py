# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class CrmMigrationValueMap(models.Model):
    _name = 'crm.migration.value.map'
    _description = 'CRM Migration Value Map'
    _order = 'field_id, sequence, id'

    field_id = fields.Many2one('crm.migration.field', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='field_id.company_id', store=True)
    sequence = fields.Integer(default=10)
    source_value = fields.Char(help="Value as found in the source; matched ignoring case and extra spaces.")
    target_value = fields.Char(
        help="Value written in Odoo: a selection value (its label or key), or for a link the XML id or exact "
             "name of the record (a stage, an activity type). Empty writes nothing.")

    _source_value_uniq = models.Constraint(
        'unique(field_id, source_value)', 'A source value is mapped once per field.')

    @api.model_create_multi
    def create(self, vals_list):
        values = super().create(vals_list)
        values.field_id.project_id._mapping_changed()
        return values

    def write(self, vals):
        result = super().write(vals)
        self.field_id.project_id._mapping_changed()
        return result

    def unlink(self):
        projects = self.field_id.project_id
        result = super().unlink()
        projects._mapping_changed()
        return result
