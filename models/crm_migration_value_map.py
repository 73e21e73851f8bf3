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


class CrmMigrationValueMapEdit(models.TransientModel):
    """A line's value map as Settings > Import would show it: each value of the file, its rows, its target."""
    _name = 'crm.migration.value.map.edit'
    _description = 'CRM Migration Value Map Editor'

    field_id = fields.Many2one('crm.migration.field', required=True, ondelete='cascade')
    target_description = fields.Char(related='field_id.target_description')
    line_ids = fields.One2many('crm.migration.value.map.edit.line', 'editor_id')

    def action_apply(self):
        """Write the targets back to the line's value map.  A value the map names keeps its entry
        (an empty target there means "write nothing", as in the template); a new value left empty
        stays out of the map, for the audit to list its rows."""
        self.ensure_one()
        Map = self.env['crm.migration.value.map']
        sequence = max(self.field_id.value_map_ids.mapped('sequence') or [0])
        for line in self.line_ids:
            target = (line.target_value or '').strip()
            if line.map_id:
                if (line.map_id.target_value or '') != target:
                    line.map_id.target_value = target
            elif target:
                sequence += 1
                Map.create({'field_id': self.field_id.id, 'source_value': line.source_value,
                            'target_value': target, 'sequence': sequence})
        return {'type': 'ir.actions.act_window_close'}


class CrmMigrationValueMapEditLine(models.TransientModel):
    _name = 'crm.migration.value.map.edit.line'
    _description = 'CRM Migration Value Map Editor Line'
    _order = 'row_count desc, id'

    editor_id = fields.Many2one('crm.migration.value.map.edit', required=True, ondelete='cascade')
    map_id = fields.Many2one('crm.migration.value.map', ondelete='set null')
    source_value = fields.Char('Value in the file', readonly=True)
    row_count = fields.Integer('Rows', readonly=True)
    target_value = fields.Char('Becomes', help="The Odoo value: a selection label or key, or the name or XML id of "
                                               "a record (a stage, an activity type). Empty: writes nothing for a "
                                               "value the map names, a new value stays unmapped.")
