# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models
from odoo.exceptions import UserError


class CrmMigrationMappingChange(models.Model):
    """A change to a reviewed mapping that a new upload calls for, waiting for a person.

    Re-uploading files never edits a mapping someone confirmed: where the new
    header differs (a column gone, a new column, the id column gone), the
    change is proposed here, and the project waits behind *Confirm mapping*
    until each proposal is accepted or rejected.
    """
    _name = 'crm.migration.mapping.change'
    _description = 'CRM Migration Proposed Mapping Change'
    _order = 'state, object_id, id'

    object_id = fields.Many2one('crm.migration.object', required=True, ondelete='cascade', index=True)
    project_id = fields.Many2one(related='object_id.project_id', store=True, index=True)
    company_id = fields.Many2one(related='object_id.company_id', store=True)
    kind = fields.Selection([
        ('new_column', 'New column'),
        ('missing_column', 'Column gone'),
        ('missing_key', 'Id column gone'),
    ], required=True)
    column = fields.Char(required=True, help="The column concerned (normalised name).")
    column_label = fields.Char(help="The column as the file names it.")
    field_id = fields.Many2one('crm.migration.field', string='Mapping line', ondelete='cascade',
                               help="The line reading the column that is gone.")
    line_values = fields.Json(help="New column: the mapping line that accepting creates.")
    new_key = fields.Char('New id column(s)', help="Id column gone: the column(s) that identify the rows now; "
                                                    "edit before accepting if the guess is wrong.")
    description = fields.Char('Proposed change', required=True)
    state = fields.Selection([('open', 'To decide'), ('accepted', 'Accepted'), ('rejected', 'Rejected')],
                             default='open', required=True, index=True)

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_accept(self):
        self.check_access('write')
        for change in self.filtered(lambda c: c.state == 'open'):
            change._apply()
            change.state = 'accepted'
        return True

    def action_reject(self):
        """Keep the mapping as it was reviewed."""
        self.check_access('write')
        self.filtered(lambda c: c.state == 'open').write({'state': 'rejected'})
        return True

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _apply(self):
        self.ensure_one()
        if self.kind == 'new_column':
            self.env['crm.migration.field'].create(dict(self.line_values or {}, object_id=self.object_id.id))
        elif self.kind == 'missing_column' and self.field_id:
            line = self.field_id
            rest = [c for c in line._source_list() if c != self.column]
            if rest:
                line.source_fields = ','.join(rest)
            else:
                line.write({'enabled': False, 'note': self.env._("Column %s is no longer in the file.",
                                                                 self.column_label or self.column)})
        elif self.kind == 'missing_key':
            if not self.new_key:
                raise UserError(self.env._(
                    "No column identifies the rows of %s any more: enter the id column(s), then accept.",
                    self.object_id.label))
            self.object_id.source_key = self.new_key
