# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class CrmMigrationRunStat(models.Model):
    _name = 'crm.migration.run.stat'
    _inherit = ['crm.migration.run.counters']
    _description = 'CRM Migration Run Counters per Object'
    _order = 'run_id, sequence, id'

    sequence = fields.Integer()
    source_count = fields.Integer('Rows in source')
    removed_count = fields.Integer('Removed', help="Rollback: records deleted.")
    restored_count = fields.Integer('Restored', help="Rollback: records given back their previous values.")
    done = fields.Boolean()
    progress = fields.Float(compute='_compute_progress')

    _run_object_uniq = models.Constraint('unique(run_id, object_id)', 'One counter line per object and run.')

    @api.depends('read_count', 'source_count', 'done')
    def _compute_progress(self):
        for stat in self:
            if stat.done:
                stat.progress = 100.0
            else:
                stat.progress = 100.0 * stat.read_count / stat.source_count if stat.source_count else 0.0

    def _add(self, counts):
        """Add ``{'created': n, ...}`` to the counters (one write per batch)."""
        self.ensure_one()
        self.write({'%s_count' % key: self['%s_count' % key] + value for key, value in counts.items() if value})
