# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import itertools
import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..connectors.exceptions import ConnectorError
from ..services import rollback, schema
from ..services.loader import ObjectLoader

_logger = logging.getLogger(__name__)

ACTIVE_STATES = ('queued', 'running')


class RowReader:
    """Keeps each object's row iterator open between batches of one execution.

    Re-reading a file from its first row for every batch would make a run
    quadratic in the file size; after a crash the iterator is simply
    reopened at the committed offset.
    """

    def __init__(self, source):
        self.source = source
        self._iterators = {}

    def take(self, name, offset, size):
        iterator, position = self._iterators.get(name, (None, None))
        if iterator is None or position != offset:
            iterator = self.source.iter_rows(name, offset=offset)
        rows = list(itertools.islice(iterator, size))
        self._iterators[name] = (iterator, offset + len(rows))
        return rows


class CrmMigrationRun(models.Model):
    _name = 'crm.migration.run'
    _description = 'CRM Migration Run'
    _order = 'id desc'

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='project_id.company_id', store=True)
    kind = fields.Selection([
        ('full', 'Full run'),
        ('rollback', 'Rollback'),
    ], required=True, default='full')
    state = fields.Selection([
        ('queued', 'Queued'),
        ('running', 'Running'),
        ('done', 'Done'),
        ('failed', 'Stopped on error'),
        ('cancelled', 'Cancelled'),
    ], default='queued', required=True, index=True)
    rollback_of_id = fields.Many2one('crm.migration.run', string='Rolls back', ondelete='set null',
                                     help="Only the records last written by this run are undone.")
    stat_ids = fields.One2many('crm.migration.run.stat', 'run_id', string='Per object')
    # Checkpoint: the object being processed and the rows (or, for a
    # rollback, the lowest record id) already done.  Committed with every
    # batch so that a killed worker resumes exactly here.
    current_object_id = fields.Many2one('crm.migration.object', readonly=True)
    offset = fields.Integer(readonly=True)
    date_start = fields.Datetime(readonly=True)
    date_end = fields.Datetime(readonly=True)
    message = fields.Text(readonly=True)

    source_count = fields.Integer(compute='_compute_totals', string='Rows in source')
    read_count = fields.Integer(compute='_compute_totals', string='Read')
    created_count = fields.Integer(compute='_compute_totals', string='Created')
    updated_count = fields.Integer(compute='_compute_totals', string='Updated')
    unchanged_count = fields.Integer(compute='_compute_totals', string='Unchanged')
    skipped_count = fields.Integer(compute='_compute_totals', string='Skipped')
    failed_count = fields.Integer(compute='_compute_totals', string='Failed')
    removed_count = fields.Integer(compute='_compute_totals', string='Removed')
    restored_count = fields.Integer(compute='_compute_totals', string='Restored')
    progress = fields.Float(compute='_compute_totals')

    @api.depends('kind', 'project_id', 'date_start')
    def _compute_display_name(self):
        labels = dict(self._fields['kind']._description_selection(self.env))
        for run in self:
            run.display_name = '%s #%s - %s' % (labels.get(run.kind), run.id or '', run.project_id.name or '')

    @api.depends('stat_ids.read_count', 'stat_ids.source_count', 'stat_ids.created_count',
                 'stat_ids.updated_count', 'stat_ids.failed_count', 'stat_ids.done')
    def _compute_totals(self):
        for run in self:
            stats = run.stat_ids
            for name in ('source', 'read', 'created', 'updated', 'unchanged', 'skipped', 'failed',
                         'removed', 'restored'):
                run['%s_count' % name] = sum(stats.mapped('%s_count' % name))
            if run.state == 'done':
                run.progress = 100.0
            elif run.kind == 'rollback':
                run.progress = 100.0 * len(stats.filtered('done')) / len(stats) if stats else 0.0
            else:
                run.progress = 100.0 * run.read_count / run.source_count if run.source_count else 0.0

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_cancel(self):
        self.filtered(lambda r: r.state in ACTIVE_STATES).write({'state': 'cancelled', 'date_end': fields.Datetime.now()})

    def action_resume(self):
        for run in self.filtered(lambda r: r.state in ('failed', 'cancelled')):
            run.write({'state': 'queued', 'message': False})
            run._schedule()

    def action_rollback(self):
        """Undo only what this run wrote."""
        self.ensure_one()
        if self.kind != 'full':
            raise UserError(self.env._("Only a migration run can be rolled back."))
        if self.state in ACTIVE_STATES:
            raise UserError(self.env._("Cancel the run before rolling it back."))
        run = self.create({'project_id': self.project_id.id, 'kind': 'rollback', 'rollback_of_id': self.id})
        run._schedule()
        return run._open_form()

    def action_open_records(self):
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._('Records of %s', self.display_name),
            'res_model': 'crm.migration.record',
            'view_mode': 'list,form',
            'domain': [('run_id', '=', self.id)],
        }

    def action_process_now(self):
        """Run in the current request: for small files, or when no cron worker runs."""
        for run in self.filtered(lambda r: r.state in ACTIVE_STATES):
            run._execute()
        return True

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _open_form(self):
        return {
            'type': 'ir.actions.act_window',
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
        }

    def _schedule(self):
        self.write({'state': 'queued'})
        self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger()

    def _objects(self):
        objects = self.project_id.object_ids.filtered('enabled')._sorted_for_load()
        return objects if self.kind == 'full' else objects[::-1]

    def _start(self):
        """First step of a run: custom fields, counters, state."""
        self.ensure_one()
        objects = self._objects()
        if self.kind == 'full':
            schema.ensure_custom_fields(self.project_id)
        self.write({
            'state': 'running',
            'date_start': fields.Datetime.now(),
            'current_object_id': objects[:1].id,
            'offset': 0,
            'stat_ids': [(0, 0, {'object_id': obj.id, 'sequence': index}) for index, obj in enumerate(objects)],
        })
        self.project_id.state = 'running'

    def _execute(self, commit=None):
        """Process batches until the run is done; ``commit(processed)`` after each batch.

        ``commit`` is ``ir.cron._commit_progress`` under the cron (it returns
        the time left; 0 ends this step and the cron picks the run up again).
        Without it (tests, "Process now"), everything happens in the current
        transaction.
        """
        self.ensure_one()
        if self.state == 'queued' and not self.date_start:
            self._start()
        elif self.state == 'queued':
            self.state = 'running'
        reader = RowReader(self.project_id._get_source()) if self.kind == 'full' else None
        while self.state == 'running':
            processed = self._process_batch(reader)
            if commit and not commit(processed):
                break
        return self.state

    def _process_batch(self, reader):
        """One batch of the current object; move to the next object when it is exhausted."""
        self.ensure_one()
        obj = self.current_object_id
        if not obj:
            self._finish()
            return 0
        stat = self.stat_ids.filtered(lambda s: s.object_id == obj)
        size = self.project_id.batch_size
        started = time.monotonic()
        if self.kind == 'rollback':
            processed, counts = rollback.rollback_batch(self, obj, size)
            stat._add(counts)
            exhausted = processed < size
        else:
            if not self.offset and not stat.source_count:
                stat.source_count = reader.source.count(obj.name)
            rows = reader.take(obj.name, self.offset, size)
            counts = ObjectLoader(self, obj, reader.source).load(rows) if rows else {}
            stat._add(counts)
            processed = len(rows)
            self.offset += processed
            exhausted = processed < size
        _logger.info("crm_migration run %s: %s %d rows in %.1fs", self.id, obj.name, processed,
                     time.monotonic() - started)
        if exhausted:
            stat.done = True
            objects = self._objects()
            following = objects[list(objects).index(obj) + 1:] if obj in objects else objects.browse()
            self.write({'current_object_id': following[:1].id, 'offset': 0})
            if not following:
                self._finish()
        return processed

    def _finish(self):
        project_state = 'rolled_back' if self.kind == 'rollback' and not self.rollback_of_id else 'done'
        self.write({'state': 'done', 'date_end': fields.Datetime.now(), 'current_object_id': False})
        self.project_id.state = project_state

    # ------------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------------
    @api.model
    def _cron_process_runs(self):
        """Advance queued runs, one batch per step, committing after each batch."""
        cron = self.env['ir.cron']
        while True:
            run = self.search([('state', 'in', ACTIVE_STATES)], order='id').try_lock_for_update(limit=1)
            if not run:
                cron._commit_progress(remaining=0)
                return
            cron._commit_progress(remaining=max(run.source_count - run.read_count, 1))
            try:
                state = run._execute(commit=cron._commit_progress)
            except (ConnectorError, UserError, OSError) as error:
                # The source or the configuration is broken, not one row:
                # stop resumably and say why.  Committed batches stay.
                self.env.cr.rollback()
                _logger.warning("crm_migration run %s stopped: %s", run.id, error)
                run.write({'state': 'failed', 'message': str(error)})
                cron._commit_progress(0)
                continue
            if state in ACTIVE_STATES:
                return  # out of time: the cron is rescheduled and resumes at the checkpoint
