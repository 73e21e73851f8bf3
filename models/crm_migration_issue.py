# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services.constants import DATA_READERS


class CrmMigrationIssue(models.Model):
    """A finding that needs a person: a duplicate, an orphan, an unmatched user..."""
    _name = 'crm.migration.issue'
    _description = 'CRM Migration Issue'
    _inherit = ['crm.migration.res.model.mixin']
    _order = 'state, id desc'

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='project_id.company_id', store=True)
    object_id = fields.Many2one('crm.migration.object', ondelete='cascade', index=True)
    run_id = fields.Many2one('crm.migration.run', ondelete='set null')
    kind = fields.Selection([
        ('duplicate', 'Duplicate'),
        ('orphan', 'Orphan reference'),
        ('unmatched_user', 'Unmatched user'),
        ('too_long', 'Value too long'),
        ('invalid', 'Invalid value'),
        ('missing_file', 'Missing file'),
        ('unmapped_value', 'Value not in a value map'),
        ('unmatched_product', 'Service without product'),
        ('contradiction', 'Contradictory values'),
        ('type_mismatch', 'Value not fitting its type'),
        ('missing_journal', 'Journal to choose'),
    ], required=True)
    source_id = fields.Char(index=True)
    related_source_id = fields.Char(help="The other source record concerned (the first of a duplicate pair).")
    res_model = fields.Char()
    res_id = fields.Many2oneReference(model_field='res_model')
    message = fields.Text(required=True, groups=DATA_READERS)  # names e-mails, names, dates of the rows
    blocking = fields.Boolean(default=True)
    state = fields.Selection([
        ('open', 'Open'), ('resolved', 'Resolved'), ('accepted', 'Accepted'),
    ], default='open', required=True, index=True)
    user_id = fields.Many2one('res.users', string='Use this user', help="Unmatched user: the Odoo user who takes "
                              "over the records of this source owner.")
    journal_id = fields.Many2one(
        'account.journal',
        string='Use this journal',
        domain=[('type', 'in', ('bank', 'cash'))],
        help="Journal to choose: the journal receiving the entries whose bank account "
        "no Odoo journal matches (stored on the project).",
    )
    resolution = fields.Selection([
        ('merge', 'Use the existing record'),
        ('create', 'Create a separate record'),
        ('skip', 'Do not migrate'),
        ('empty', 'Load with the field empty'),
    ], help="What the next run does with this source record.")

    _issue_uniq = models.Constraint(
        'unique(object_id, kind, source_id)', 'This issue is already recorded for this source record.')

    @api.depends('kind', 'object_id.label', 'source_id')
    def _compute_display_name(self):
        kinds = dict(self._fields['kind']._description_selection(self.env))
        for issue in self:
            issue.display_name = ' - '.join(part for part in (
                kinds.get(issue.kind), issue.object_id.label, issue.source_id) if part) or self.env._('Issue')

    def action_use_user(self):
        for issue in self:
            if not issue.user_id:
                raise UserError(self.env._("Pick the user first."))
        self.write({'state': 'resolved', 'resolution': False})

    def action_use_journal(self):
        """Journal to choose: the project keeps the journal for entries no journal of their own receives."""
        for issue in self:
            if not issue.journal_id:
                raise UserError(self.env._("Pick the journal first."))
            issue.project_id.trust_journal_id = issue.journal_id
        self.write({'state': 'resolved', 'resolution': False})

    def action_load_empty(self):
        """Value not fitting its type: the rows land with the field empty, the value kept on their link."""
        self.action_resolve('empty')

    def action_resolve(self, resolution):
        self.write({'state': 'resolved', 'resolution': resolution})

    def action_merge(self):
        self.action_resolve('merge')

    def action_create_separate(self):
        self.action_resolve('create')

    def action_skip(self):
        self.action_resolve('skip')

    def action_create_user(self):
        """Unmatched user: the next run creates this source user in Odoo (no access rights beyond the default)."""
        self.write({'state': 'resolved', 'resolution': 'create', 'user_id': False})

    def action_leave_unassigned(self):
        """Unmatched user: the records pointing to this source user land with the field empty."""
        self.write({'state': 'resolved', 'resolution': 'skip', 'user_id': False})

    def action_accept(self):
        self.write({'state': 'accepted'})

    def action_reopen(self):
        self.write({'state': 'open', 'resolution': False})
