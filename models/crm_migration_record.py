# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..services import actions
from ..services.constants import DATA_READERS


class CrmMigrationResModelMixin(models.AbstractModel):
    """``res_model`` said the user's way: "Lead/Opportunity", not ``crm.lead`` (technical names
    stay in developer mode)."""
    _name = 'crm.migration.res.model.mixin'
    _description = 'CRM Migration Odoo Model Name'

    res_model_name = fields.Char('Odoo model', compute='_compute_res_model_name')

    @api.depends('res_model')
    def _compute_res_model_name(self):
        names = {}
        for line in self:
            model = line.res_model
            if model and model not in names:
                names[model] = self.env['ir.model'].sudo()._get(model).name or model
            line.res_model_name = names.get(model, False)


class CrmMigrationRecord(models.Model):
    """The link and audit table: one row per source record and Odoo model.

    Idempotency (a rerun finds the record again), lookups (a patient's id in
    an appointment), reconciliation and rollback all read this table.
    """
    _name = 'crm.migration.record'
    _description = 'CRM Migration Record Link'
    _inherit = ['crm.migration.res.model.mixin']
    _order = 'id desc'
    _rec_name = 'source_id'

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='project_id.company_id', store=True)
    object_id = fields.Many2one('crm.migration.object', required=True, ondelete='cascade', index=True)
    run_id = fields.Many2one('crm.migration.run', string='Last run', ondelete='set null', index=True,
                             help="The run that last wrote the Odoo record.")
    created_run_id = fields.Many2one('crm.migration.run', string='First run', ondelete='set null',
                                     help="The run that created (or first changed) the Odoo record.")
    source_id = fields.Char(required=True, index=True)
    line_nr = fields.Integer('Source line')
    res_model = fields.Char('Odoo model (technical name)', required=True)
    res_id = fields.Many2oneReference('Odoo record id', model_field='res_model', index=True)
    operation = fields.Selection([
        ('created', 'Created'),
        ('updated', 'Updated'),
        ('linked', 'Linked'),
        ('skipped', 'Skipped'),
        ('failed', 'Failed'),
        ('rolled_back', 'Rolled back'),
    ], required=True, index=True,
        help="Created: the migration made this record; rollback deletes it.\n"
             "Updated: an existing record was changed; rollback writes its previous values back.\n"
             "Linked: an existing record stands for this source row unchanged.\n"
             "Skipped / Failed: nothing was written; the message says why.")
    before_values = fields.Json(groups=DATA_READERS,
                                help="Values of an updated record before the migration first wrote to it.")
    previous_values = fields.Json(groups=DATA_READERS,
                                  help="Values before the last run's write: rolling back that run restores them.")
    written_values = fields.Json(groups=DATA_READERS,
                                 help="What the migration last wrote, field by field, as read back: a later run "
                                      "leaves a field a user changed since as the user left it.")
    checksum = fields.Char(help="Digest of the source row and mapping, to skip unchanged rows on reruns.")
    message = fields.Text(groups=DATA_READERS)  # quotes row values ("'31/02/1980' is not a valid date")
    synced_at = fields.Datetime(help="When the migration last wrote the Odoo record.")
    synced_uid = fields.Many2one(
        'res.users',
        string='Written by',
        ondelete='set null',
        help="Who ran the migration's last write: another user's later edit is kept by rollback.",
    )
    write_seq = fields.Integer(index=True, copy=False,
                               help="Order of the migration's writes: rollback undoes the newest first.")
    pending_links = fields.Json(help="Links to records of the same object, set once the whole object has "
                                     "loaded: {field: source id}.")
    contributions = fields.Json(help="Values this row adds to totals on looked-up records: "
                                     "{'model,id,field': amount}.")
    pending_actions = fields.Char(
        help="Methods to run on the record once the whole run has loaded (post an invoice after its lines).")
    rollback_hold = fields.Boolean(
        'Kept by rollback', help="A user changed the record after the migration wrote it: a rollback keeps it "
                                 "unless forced.")

    _source_uniq = models.Constraint(
        'unique(object_id, source_id, res_model)',
        'A source record is linked once per Odoo model.')
    _res_idx = models.Index('(res_model, res_id)')
    # A rollback walks one object's links newest first, a batch at a time.
    _rollback_idx = models.Index('(object_id, write_seq)')

    def init(self):
        self.env.cr.execute("CREATE SEQUENCE IF NOT EXISTS crm_migration_record_write_seq")

    @api.depends('source_id', 'object_id')
    def _compute_display_name(self):
        for record in self:
            record.display_name = '%s %s' % (record.object_id.label or '', record.source_id)

    def action_open_target(self):
        self.ensure_one()
        return actions.form_action(self.res_model, self.res_id)
