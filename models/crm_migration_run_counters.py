# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class CrmMigrationRunCounters(models.AbstractModel):
    """What a run did with one object's rows: its line on the run, or one queue_job slice of it."""

    _name = 'crm.migration.run.counters'
    _description = 'CRM Migration Run Counters'

    run_id = fields.Many2one('crm.migration.run', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='run_id.company_id', store=True)
    object_id = fields.Many2one('crm.migration.object', required=True, ondelete='cascade')
    read_count = fields.Integer('Read')
    created_count = fields.Integer('Created')
    updated_count = fields.Integer('Updated')
    unchanged_count = fields.Integer('Unchanged')
    skipped_count = fields.Integer('Skipped')
    failed_count = fields.Integer('Failed')
    mismatch_count = fields.Integer('Read-back mismatches', help="Fields whose value read back from Odoo "
                                    "differs from the mapped source value (truncated, rounded, timezone...).")
    kept_count = fields.Integer(
        'Kept', help="Rollback: records changed by a user after the migration, left as they are."
    )
