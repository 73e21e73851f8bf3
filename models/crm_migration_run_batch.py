# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

# The counters a batch adds up to its object's line on the run (crm.migration.run.stat).
COUNTERS = ('read', 'created', 'updated', 'unchanged', 'skipped', 'failed', 'mismatch', 'kept')


class CrmMigrationRunBatch(models.Model):
    """One slice of one object's rows in a run processed by queue_job.

    The partition is fixed when the run is planned (rows ``[offset, offset +
    size)`` of the object's file), so batches can be loaded in any order and in
    parallel without two of them reading the same row.  A batch's counters and
    its state are written in the transaction that loads its rows: a batch is
    either done with its counts or not done at all, so a retried or re-run job
    never counts twice, and the run's counters are the sum of its batches.
    """
    _name = 'crm.migration.run.batch'
    _inherit = ['crm.migration.run.counters']
    _description = 'CRM Migration Run Batch (queue_job)'
    _order = 'run_id, sequence, offset'

    sequence = fields.Integer(help="The object's place in the load order.")
    offset = fields.Integer(required=True, help="First row of the slice (0-based, in the object's file).")
    size = fields.Integer(required=True)
    in_file_order = fields.Char(
        help="Why the batches of this object load one after the other, in file order, rather than in parallel.")
    state = fields.Selection([('pending', 'Pending'), ('done', 'Done')], default='pending', required=True)
    date_done = fields.Datetime(readonly=True)

    _slice_uniq = models.Constraint('unique(run_id, object_id, "offset")', 'A slice of rows is planned once per run.')

    @api.model
    def _totals(self, batches):
        """``{counter: sum}`` over ``batches`` (done ones only)."""
        done = batches.filtered(lambda b: b.state == 'done')
        return {name: sum(done.mapped('%s_count' % name)) for name in COUNTERS}
