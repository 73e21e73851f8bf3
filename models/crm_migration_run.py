# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import itertools
import logging
import random
import time

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from odoo.addons.base.models.ir_cron import MIN_TIME_PER_JOB

from ..connectors import proposal
from ..connectors.exceptions import ConnectorError
from ..services import actions, audit, rollback, sample, schema
from ..services.constants import DATA_READERS
from ..services.loader import ObjectLoader, apply_totals, resolve_pending_links, run_pending_actions

_logger = logging.getLogger(__name__)

ACTIVE_STATES = ('queued', 'running')
LOAD_KINDS = ('full', 'delta', 'sample')
# Runs that read the source row by row (an audit reads and writes nothing but its findings).
READ_KINDS = LOAD_KINDS + ('audit',)
# Seconds of work per background step (system parameter crm_migration.step_seconds).
DEFAULT_STEP_SECONDS = 20.0
# A user saving a record the batch writes (serialization failure, a row lock held, a
# deadlock) is not the run's fault: the batch is undone and tried again after a short
# backoff, like Odoo retries a request; when the conflict outlasts the attempts, the step
# ends and the run waits CONFLICT_PAUSE seconds for the next one.
CONFLICT_ATTEMPTS = 3
CONFLICT_BACKOFF = 0.5
CONFLICT_PAUSE = 10
# How long a batch waits for a row a user's transaction holds before it counts as a
# conflict: waiting for the lock without bound could eat the whole time box and more.
LOCK_TIMEOUT_MS = 5000


class RowReader:
    """Keeps each object's row iterator open between batches of one execution.

    Re-reading a file from its first row for every batch would make a run
    quadratic in the file size.  After a crash the iterator is reopened at
    the committed checkpoint: the API page cursor of the last row done when
    the source gives one (no page is fetched twice), else the row offset.
    """

    def __init__(self, source, since=None, wanted=None, keys=None):
        self.source = source
        self.since = since or None  # Odoo's empty datetime is False, connectors expect None
        # Sample runs: only these source ids per object (``keys`` names the id column).
        self.wanted = {name: set(ids) for name, ids in (wanted or {}).items()}
        self.keys = keys or {}
        self._iterators = {}
        # Source ids each object has met in this execution: a second copy of an
        # id in a later batch is a duplicate even when the first one was unchanged.
        self.seen = {}

    def take(self, obj, offset, size, cursor=None, cursor_index=0):
        name, source = obj.name, obj._source_name()
        iterator, position = self._iterators.get(name, (None, None))
        if iterator is None or position != offset:
            if name in self.wanted:
                wanted, key = self.wanted[name], self.keys.get(name)
                rows = (row for row in self.source.iter_rows(source, since=self.since)
                        if proposal.source_id_of(row, proposal.key_columns(key)) in wanted)
                iterator = itertools.islice(rows, offset, None)
            elif cursor:
                iterator = self.source.iter_rows(source, since=self.since, cursor=cursor, offset=cursor_index)
            else:
                iterator = self.source.iter_rows(source, since=self.since, offset=offset)
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
        ('sample', 'Sample run'),
        ('full', 'Full run'),
        ('delta', 'Delta pickup'),
        ('rollback', 'Rollback'),
        ('audit', 'Audit'),
    ], required=True, default='full')
    state = fields.Selection([
        ('queued', 'Queued'),
        ('running', 'Running'),
        ('paused', 'Paused'),
        ('done', 'Done'),
        ('failed', 'Stopped on error'),
        ('cancelled', 'Cancelled'),
    ], default='queued', required=True, index=True)
    rollback_of_id = fields.Many2one('crm.migration.run', string='Rolls back', ondelete='set null',
                                     help="Only the records last written by this run are undone.")
    force = fields.Boolean(help="Rollback: also undo records a user changed after the migration wrote them.")
    since = fields.Datetime(help="Delta pickup: only source rows changed after this moment are asked for.")
    sample_ids = fields.Json(readonly=True, help="Sample run: the source ids chosen per object.")
    # Audit: what it remembers between steps (ids met, first row of each e-mail, findings so
    # far), committed with its checkpoint.  Personal data: as readable as the diff's values.
    audit_state = fields.Json(readonly=True, copy=False, groups=DATA_READERS)
    diff_ids = fields.One2many('crm.migration.diff', 'run_id', string='Field-level diff')
    diff_mismatch_count = fields.Integer(compute='_compute_diff_counts', string='Differences')
    stat_ids = fields.One2many('crm.migration.run.stat', 'run_id', string='Per object')
    # Checkpoint: the object being processed, the rows (or, for a rollback,
    # the lowest record id) already done, and for API sources the page
    # cursor of the last row done.  Committed with every batch so that a
    # killed worker resumes exactly here.
    current_object_id = fields.Many2one('crm.migration.object', readonly=True)
    offset = fields.Integer(readonly=True)
    cursor = fields.Char(readonly=True)
    cursor_index = fields.Integer(readonly=True)
    resume_at = fields.Datetime(readonly=True, help="The source asked to wait (rate limit), or users were saving "
                                                    "records the batch writes: the run resumes then.")
    date_start = fields.Datetime('Started', readonly=True)
    date_end = fields.Datetime('Ended', readonly=True)
    message = fields.Text(readonly=True)
    # Highest percentage shown so far: later objects' row counts are only known when they start,
    # and a bar that goes back (100 -> 93 -> 83) reads as lost work.
    progress_seen = fields.Float(readonly=True, copy=False)
    batch_cap = fields.Integer(
        'Batch size in use', readonly=True, copy=False,
        help="Rows per batch this run has come down to: a batch that took longer than a step's time is "
             "halved for the next ones, so that no batch runs into the server's time limit.")

    source_count = fields.Integer(compute='_compute_totals', string='Rows in source')
    read_count = fields.Integer(compute='_compute_totals', string='Read')
    created_count = fields.Integer(compute='_compute_totals', string='Created')
    updated_count = fields.Integer(compute='_compute_totals', string='Updated')
    unchanged_count = fields.Integer(compute='_compute_totals', string='Unchanged')
    skipped_count = fields.Integer(compute='_compute_totals', string='Skipped')
    failed_count = fields.Integer(compute='_compute_totals', string='Failed')
    removed_count = fields.Integer(compute='_compute_totals', string='Removed')
    restored_count = fields.Integer(compute='_compute_totals', string='Restored')
    kept_count = fields.Integer(compute='_compute_totals', string='Kept')
    mismatch_count = fields.Integer(compute='_compute_totals', string='Read-back mismatches')
    progress = fields.Float(compute='_compute_totals', help="Share of the source rows read (a rollback: of the "
                                                            "objects undone); it never goes back.")
    rate = fields.Float('Records/s', compute='_compute_totals', digits=(16, 1),
                        help="Source rows read (a rollback: records undone) per second since the run started.")
    eta = fields.Datetime('Expected end', compute='_compute_totals',
                          help="When the rows left will be read at the current rate.")
    last_errors = fields.Text(compute='_compute_last_errors', groups=DATA_READERS)

    @api.depends('kind', 'project_id', 'date_start')
    def _compute_display_name(self):
        labels = dict(self._fields['kind']._description_selection(self.env))
        for run in self:
            run.display_name = '%s #%s - %s' % (labels.get(run.kind), run.id or '', run.project_id.name or '')

    @api.depends('stat_ids.read_count', 'stat_ids.source_count', 'stat_ids.created_count',
                 'stat_ids.updated_count', 'stat_ids.failed_count', 'stat_ids.done', 'date_start', 'date_end',
                 'state', 'progress_seen')
    def _compute_totals(self):
        now = fields.Datetime.now()
        for run in self:
            stats = run.stat_ids
            for name in ('source', 'read', 'created', 'updated', 'unchanged', 'skipped', 'failed',
                         'removed', 'restored', 'kept', 'mismatch'):
                run['%s_count' % name] = sum(stats.mapped('%s_count' % name))
            if run.state == 'done':
                run.progress = 100.0
            elif run.kind == 'rollback':
                run.progress = 100.0 * len(stats.filtered('done')) / len(stats) if stats else 0.0
            else:
                # An object not started yet counts with the rows its file or API announced.
                total = sum(stat.source_count or stat.object_id.row_count for stat in stats)
                run.progress = min(100.0 * run.read_count / total, 100.0) if total else 0.0
            if run.state != 'done':
                run.progress = max(run.progress, run.progress_seen)
            elapsed = ((run.date_end or now) - run.date_start).total_seconds() if run.date_start else 0
            done = (run.read_count if run.kind in READ_KINDS
                    else run.removed_count + run.restored_count + run.kept_count + run.failed_count)
            run.rate = done / elapsed if elapsed > 0 else 0.0
            remaining = max(run.source_count - run.read_count, 0)
            run.eta = (now + datetime.timedelta(seconds=remaining / run.rate)
                       if run.state in ACTIVE_STATES and run.rate and run.kind in READ_KINDS else False)

    def _compute_diff_counts(self):
        counts = dict(self.env['crm.migration.diff']._read_group(
            [('run_id', 'in', self.ids), ('equal', '=', False)], ['run_id'], ['__count']))
        for run in self:
            run.diff_mismatch_count = counts.get(run, 0)

    def _compute_last_errors(self):
        Record = self.env['crm.migration.record']
        for run in self:
            failed = Record.search([('run_id', '=', run.id), ('operation', '=', 'failed')], limit=5, order='id desc')
            run.last_errors = (
                '\n'.join('%s %s: %s' % (r.object_id.label, r.source_id, r.message) for r in failed) or False
            )

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_pause(self):
        """Stop after the current batch; nothing is lost, Resume continues at the checkpoint."""
        runs = self.filtered(lambda r: r.state in ACTIVE_STATES)
        runs.write({'state': 'paused'})
        runs._notify_progress()

    def action_cancel(self):
        self.filtered(lambda r: r.state in ACTIVE_STATES + ('paused', 'failed')).write(
            {'state': 'cancelled', 'date_end': fields.Datetime.now()})

    def action_resume(self):
        for run in self.filtered(lambda r: r.state in ('paused', 'failed', 'cancelled')):
            if run.kind in LOAD_KINDS and run.project_id.run_ids.filtered(
                    lambda r, run=run: r.kind == 'rollback' and r.id > run.id and r.state != 'cancelled'):
                raise UserError(self.env._("A rollback came after this run: start a new run instead of resuming it."))
            run.write({'state': 'queued', 'message': False, 'resume_at': False, 'date_end': False})
            run._schedule()

    def action_rollback(self):
        """Undo only what this run wrote."""
        self.ensure_one()
        return self._rollback_run(force=False)

    def action_rollback_force(self):
        """Undo what this run wrote, including records users changed since."""
        self.ensure_one()
        return self._rollback_run(force=True)

    def _rollback_run(self, force):
        if self.kind not in LOAD_KINDS:
            if self.kind == 'rollback' and self.rollback_of_id:
                return self.rollback_of_id._rollback_run(force)
            if self.kind == 'rollback':
                return self.project_id._start_rollback(force)
            raise UserError(self.env._("Only a migration run can be rolled back."))
        self.project_id._prepare_rollback()
        run = self.create({'project_id': self.project_id.id, 'kind': 'rollback', 'rollback_of_id': self.id,
                           'force': force})
        run._schedule()
        return run._open_form()

    def action_open_records(self):
        self.ensure_one()
        return actions.list_action(self.env._('Records of %s', self.display_name), 'crm.migration.record',
                                   [('run_id', '=', self.id)])

    def action_open_diff(self):
        self.ensure_one()
        return actions.list_action(self.env._('Field-level diff of %s', self.display_name), 'crm.migration.diff',
                                   [('run_id', '=', self.id)], {'search_default_filter_different': 1})

    def action_download_diff(self):
        """The diff as an XLSX workbook, one row per record and field."""
        self.ensure_one()
        import io  # noqa: PLC0415

        import xlsxwriter  # noqa: PLC0415 (an Odoo dependency)

        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {'in_memory': True, 'strings_to_formulas': False})
        sheet = workbook.add_worksheet('Diff')
        bold = workbook.add_format({'bold': True})
        red = workbook.add_format({'bg_color': '#F8D7DA'})
        header = ['Object', 'Source id', 'Odoo model', 'Odoo id', 'Field', 'Source value', 'Mapped value',
                  'Value in Odoo', 'Equal', 'Reason']
        sheet.write_row(0, 0, header, bold)
        for index, line in enumerate(self.diff_ids, start=1):
            sheet.write_row(index, 0, [
                line.object_id.label, line.source_id, line.res_model, line.res_id, line.field_label or line.field_name,
                line.source_value or '', line.mapped_value or '', line.odoo_value or '',
                'yes' if line.equal else 'no', line.reason or ''], None if line.equal else red)
        sheet.autofilter(0, 0, len(self.diff_ids), len(header) - 1)
        workbook.close()
        attachment = self.env['ir.attachment'].create({
            'name': 'diff_run_%d.xlsx' % self.id, 'raw': buffer.getvalue(),
            'res_model': self._name, 'res_id': self.id,
            'mimetype': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        })
        return {'type': 'ir.actions.act_url', 'url': '/web/content/%d?download=true' % attachment.id,
                'target': 'self'}

    def action_process_now(self):
        """Run in the current request for one time box; the cron takes what is left."""
        for run in self.filtered(lambda r: r.state in ACTIVE_STATES):
            # The cron holds the run's row while it works on it: refuse rather than
            # load the same batch twice (that ended in a UniqueViolation).
            if not run.try_lock_for_update():
                raise UserError(self.env._(
                    "%s is being processed in the background right now; its progress shows here.",
                    run.display_name))
            if run._execute(deadline=time.monotonic() + run._step_seconds()) in ACTIVE_STATES:
                self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger()
        return True

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _open_form(self):
        return actions.form_action(self._name, self.id)

    def _schedule(self, at=None):
        self.filtered(lambda r: r.state != 'queued').write({'state': 'queued'})
        self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger(at)

    def _objects(self):
        # A target in an app that is not installed is left out (the inventory says
        # which app to install); everything else still migrates.  A rollback covers
        # every object, enabled or not: what was loaded is undone.
        if self.kind == 'audit':
            return audit.Audit.objects(self.project_id)
        installed = self.project_id.object_ids.filtered('model_installed')
        if self.kind in LOAD_KINDS:
            return installed.filtered('enabled')._sorted_for_load()
        return installed._sorted_for_load()[::-1]

    def _start(self):
        """First step of a run: custom fields, counters, state."""
        self.ensure_one()
        objects = self._objects()
        if self.kind == 'sample' and not self.sample_ids:
            # Chosen here, in the run's first step, not in the click's request: it reads every file.
            self.sample_ids = sample.select_sample(self.project_id, self.project_id.sample_size)
        if self.kind == 'audit':
            # The last audit's open findings go now; the new ones are created at its end.
            self.audit_state = audit.Audit.begin(self.project_id).dump()
        elif self.kind in LOAD_KINDS:
            schema.ensure_custom_fields(self.project_id)
        elif not self.force:
            rollback.hold_edited_records(self, objects)
        self.write({
            'state': 'running',
            'date_start': fields.Datetime.now(),
            'current_object_id': objects[:1].id,
            'offset': 0,
            'stat_ids': [(0, 0, {'object_id': obj.id, 'sequence': index}) for index, obj in enumerate(objects)],
        })
        self.project_id._on_run_started(self)

    def _step_seconds(self):
        # Well under limit_time_cpu (60 s) and limit_time_real (120 s): a step that
        # ends in time is committed, a worker killed on its limit loses its batch.
        value = self.env['ir.config_parameter'].sudo().get_param('crm_migration.step_seconds')
        try:
            return max(float(value), 0.0) if value else DEFAULT_STEP_SECONDS
        except ValueError:
            return DEFAULT_STEP_SECONDS

    def _execute(self, commit=None, deadline=None):
        """Process batches until the run is done; ``commit(processed)`` after each batch.

        ``deadline`` (a ``time.monotonic()`` value) ends the step after the batch
        that passes it, whatever ``commit`` says.

        ``commit`` is ``ir.cron._commit_progress`` under the cron (it returns
        the time left; 0 ends this step and the cron picks the run up again).
        Without it (tests, "Process now"), everything happens in the current
        transaction.
        """
        self.ensure_one()
        if self.state == 'queued' and not self.date_start:
            self._start()
        else:
            if self.state == 'queued':
                self.state = 'running'
            if self.kind == 'rollback' and not self.force and self.state == 'running':
                # A later step: a record a user edited since the last one is held before
                # this step's own cascades (a contact removed from its lead) rewrite it.
                rollback.hold_edited_records(self, self._objects(), reset=False)
        reader = None
        if self.kind in READ_KINDS:
            keys = {obj.name: obj.source_key for obj in self.project_id.object_ids}
            reader = RowReader(self.project_id._get_source(), since=self.since, wanted=self.sample_ids, keys=keys)
        while self.state == 'running':
            processed = self._process_batch_retrying(reader, commit)
            if processed is None:
                break  # a user's save kept conflicting: the run waits for a later step
            if commit and not commit(processed):
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            # A pause or cancel clicked meanwhile is committed by another
            # transaction: read it before the next batch.
            self.invalidate_recordset(['state'])
        return self.state

    def _process_batch_retrying(self, reader, commit=None):
        """``_process_batch`` in a savepoint, tried again when a user's save conflicts with it.

        Returns the rows processed, or None when the conflict outlasted the attempts:
        nothing of the batch is kept, the run stays active and resumes at a later step.
        """
        cr = self.env.cr
        error = None
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            seen = {key: set(ids) for key, ids in reader.seen.items()} if reader else None
            cr.execute("SET LOCAL lock_timeout = %s", [LOCK_TIMEOUT_MS])
            try:
                with cr.savepoint():
                    return self._process_batch(reader)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as conflict:
                error = conflict
            if reader:
                # The undone batch's ids are not "met" yet: its retry is no duplicate of itself.
                reader.seen.clear()
                reader.seen.update(seen)
            _logger.info("crm_migration run %s: a concurrent save conflicts with the batch (%s), attempt %d of %d",
                         self.id, type(error).__name__, attempt, CONFLICT_ATTEMPTS)
            if commit:
                # A serialization failure repeats as long as the transaction's snapshot is the old
                # one: commit what came before the batch (none of it) to read the user's save.
                if not commit(0):
                    break
            elif isinstance(error, pg_errors.SerializationFailure):
                break  # in a request the snapshot stays old: leave the batch to the cron
            if attempt < CONFLICT_ATTEMPTS:
                time.sleep(CONFLICT_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
        self._wait_after_conflict(error)
        return None

    def _wait_after_conflict(self, error):
        resume_at = fields.Datetime.now() + datetime.timedelta(seconds=CONFLICT_PAUSE)
        self.write({'resume_at': resume_at, 'message': self.env._(
            "Users were saving records this batch writes (%(error)s); nothing of the batch was kept and it is "
            "tried again at %(when)s.", error=type(error).__name__, when=resume_at)})
        self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger(resume_at)

    def _process_batch(self, reader):
        """One batch of the current object; move to the next object when it is exhausted."""
        self.ensure_one()
        obj = self.current_object_id
        if not obj:
            # Every object is loaded: replay document states (post invoices), then done.
            processed = run_pending_actions(self, self.project_id.batch_size) if self.kind in LOAD_KINDS else 0
            if self.kind == 'audit':
                self._finish_audit()
            elif not processed:
                self._finish()
            return processed
        stat = self.stat_ids.filtered(lambda s: s.object_id == obj)
        size = self.project_id.batch_size
        started = time.monotonic()
        if self.kind == 'rollback':
            size = rollback.batch_limit(obj, size)
            processed, counts = rollback.rollback_batch(self, obj, size)
            stat._add(counts)
        elif self.kind == 'audit':
            size = max(size, audit.BATCH_ROWS)
            processed = self._audit_batch(reader, obj, stat, size)
        else:
            size = min(size, self.batch_cap) if self.batch_cap else size
            if not self.offset and not stat.source_count:
                stat.source_count = (len(self.sample_ids.get(obj.name, [])) if self.kind == 'sample'
                                     else reader.source.count(obj._source_name()) or 0)
            rows = reader.take(obj, self.offset, size, self.cursor, self.cursor_index + 1)
            counts = ObjectLoader(self, obj, reader.source, seen=reader.seen.setdefault(obj.id, set())).load(rows) \
                if rows else {}
            stat._add(counts)
            processed = len(rows)
            last = rows[-1] if rows else {}
            self.write({'offset': self.offset + processed,
                        'cursor': last.get('_cursor') or False, 'cursor_index': last.get('_index') or 0})
        elapsed = time.monotonic() - started
        _logger.info("crm_migration run %s: %s %d rows in %.1fs", self.id, obj.name, processed, elapsed)
        if self.kind in LOAD_KINDS and processed == size > 1 and elapsed > self._step_seconds():
            # A batch is one transaction that the time box cannot cut: one that outlasts a step
            # (a busy server, heavy orders) comes close to the worker's limit, so the next are smaller.
            self.batch_cap = size // 2
            _logger.info("crm_migration run %s: a batch took %.1fs, next batches of %d rows", self.id, elapsed,
                         self.batch_cap)
        self._notify_progress()
        if processed < size:
            if self.kind in LOAD_KINDS:
                resolve_pending_links(self, obj)
                apply_totals(self, obj)
            stat.done = True
            objects = self._objects()
            following = objects[list(objects).index(obj) + 1:] if obj in objects else objects.browse()
            self.write({'current_object_id': following[:1].id, 'offset': 0, 'cursor': False, 'cursor_index': 0})
        return processed

    def _audit_batch(self, reader, obj, stat, size):
        """Check the next rows of ``obj``; everything the audit remembers is saved with the checkpoint."""
        auditor = audit.Audit(self.project_id, self.audit_state)
        rows = []
        if audit.Audit.reads(obj, reader.source):
            if not self.offset:
                auditor.begin_object(obj)
                stat.source_count = obj.row_count or reader.source.count(obj._source_name()) or 0
            rows = reader.take(obj, self.offset, size, self.cursor, self.cursor_index + 1)
            auditor.audit_rows(obj, rows)
            if len(rows) < size:
                auditor.end_object(obj)
        last = rows[-1] if rows else {}
        stat._add({'read': len(rows)})
        self.write({'audit_state': auditor.dump(), 'offset': self.offset + len(rows),
                    'cursor': last.get('_cursor') or False, 'cursor_index': last.get('_index') or 0})
        return len(rows)

    def _finish_audit(self):
        issues = audit.Audit(self.project_id, self.audit_state).finish()
        self.write({'audit_state': False, 'message': self.env._("%s findings.", len(issues))})
        self._finish()
        self.project_id.message_post(body=self.env._("Audit: %s findings.", len(issues)))

    def _finish(self):
        self.write({'state': 'done', 'date_end': fields.Datetime.now(), 'current_object_id': False})
        self.project_id._on_run_done(self)
        self._notify_progress()
        self._notify_end()

    def _notify_progress(self):
        """Tell the forms showing this run or its project to reload (after the commit, by Odoo's bus);
        the percentage shown so far is kept as the floor of the next one."""
        for run in self:
            if run.state != 'done':
                run.invalidate_recordset(['progress'])
                if run.progress > run.progress_seen:
                    run.progress_seen = run.progress
            users = self.env.ref('crm_migration.group_crm_migration_user').sudo().all_user_ids
            users.filtered(lambda u, run=run: run.company_id in u.company_ids).partner_id._bus_send(
                'crm_migration/progress', {'run_id': run.id, 'project_id': run.project_id.id, 'state': run.state,
                                           'progress': run.progress, 'project_state': run.project_id.state})

    def _notify_end(self):
        """The user who started the run learns it ended, wherever they are in Odoo."""
        for run in self.filtered(lambda r: r.create_uid and not r.create_uid._is_superuser()):
            if run.state == 'done':
                counts = (
                    self.env._(
                        "%(removed)s removed, %(restored)s restored, %(kept)s kept",
                        removed=run.removed_count,
                        restored=run.restored_count,
                        kept=run.kept_count,
                    )
                    if run.kind == 'rollback'
                    else self.env._(
                        "%(created)s created, %(updated)s updated, %(failed)s failed",
                        created=run.created_count,
                        updated=run.updated_count,
                        failed=run.failed_count,
                    )
                )
                message, kind = self.env._("%(run)s is done: %(counts)s.", run=run.display_name, counts=counts), \
                    'warning' if run.failed_count else 'success'
            else:
                message, kind = self.env._("%(run)s stopped: %(why)s", run=run.display_name,
                                           why=run.message or run.state), 'danger'
            run.create_uid.partner_id._bus_send('simple_notification', {
                'title': self.env._("Migration"), 'message': message, 'type': kind, 'sticky': kind == 'danger'})

    def _remaining_estimate(self):
        """Rows (or, for a rollback, records) still to do, at least 1 while the run is active."""
        if self.state not in ACTIVE_STATES:
            return 0
        if self.kind == 'rollback':
            todo = sum(self.env['crm.migration.record'].search_count(rollback.rollback_domain(self, obj))
                       for obj in self._objects())
        else:
            expected = sum(self._objects().mapped('row_count'))
            todo = max(self.source_count, expected) - self.read_count
        return max(todo, 1)

    def _stop(self, error):
        """The source or the configuration failed (not one row): stop resumably, say why."""
        retry_after = getattr(error, 'retry_after', None)
        if not retry_after and getattr(error, 'remaining', None) == 0 and self.project_id.source_type == 'nocrm':
            # The project's request budget for the vendor's day is spent (noCRM counts per day):
            # the run goes on at the next day, from its last committed row.
            retry_after = (self.project_id._api_window_spent() - fields.Datetime.now()).total_seconds()
        if retry_after:
            resume_at = fields.Datetime.now() + datetime.timedelta(seconds=retry_after)
            self.write({'state': 'queued', 'resume_at': resume_at, 'message': self.env._(
                "The source asked to wait (%(error)s); the run resumes at %(when)s.", error=error, when=resume_at)})
            self._schedule(resume_at)
        else:
            self.write({'state': 'failed', 'message': str(error)})
            self._notify_end()
        self._notify_progress()

    # ------------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------------
    @api.model
    def _cron_process_runs(self):
        """Advance queued runs, one batch per step, committing after each batch."""
        cron = self.env['ir.cron']
        # Odoo calls this up to MIN_RUNS_PER_JOB times in one job, each call getting at
        # least one batch even with no time left: bound the whole job by our own box,
        # counted from the job's start, so a slow batch cannot add up past the limits.
        end = self.env.context.get('cron_end_time')
        deadline = (end - MIN_TIME_PER_JOB if end else time.monotonic()) + self._step_seconds()
        while True:
            now = fields.Datetime.now()
            # Runs on queue_job (models/crm_migration_run_queue.py) are the job workers' to process.
            run = self.search([('state', 'in', ACTIVE_STATES), ('use_queue_job', '=', False), '|',
                               ('resume_at', '=', False), ('resume_at', '<=', now)],
                              order='id').try_lock_for_update(limit=1)
            if not run:
                cron._commit_progress(remaining=0)
                return
            if time.monotonic() >= deadline:
                # Nothing done and work left: Odoo ends this job and reschedules it at once.
                self.env.cr.rollback()  # releases the run for the next job
                self._wake_next_step()
                cron._commit_progress(remaining=1)
                return
            if run.resume_at:
                # The wait (a rate limit, a conflict with a user's save) is over: so is its message.
                run.write({'resume_at': False, 'message': False})
            cron._commit_progress(remaining=run._remaining_estimate())

            def commit(processed, run=run):
                # Report real remaining work, or Odoo takes the job for done and waits
                # its full interval before the next step.
                time_left = cron._commit_progress(processed, remaining=run._remaining_estimate())
                # The commit released the row lock: take it again, or a "Process now"
                # could start on the same run between two batches.
                return time_left if run.try_lock_for_update() else 0

            try:
                state = run._execute(commit=commit, deadline=deadline)
            except Exception as error:  # noqa: BLE001 - a stuck "running" run is worse than any error
                # Committed batches stay; the failed one is rolled back whole.
                self.env.cr.rollback()
                expected = isinstance(error, (ConnectorError, UserError, OSError))
                _logger.warning("crm_migration run %s stopped: %s", run.id, type(error).__name__,
                                exc_info=not expected)
                run._stop(error if expected else self.env._(
                    "Stopped on an unexpected %(error)s: %(detail)s. Resume once the cause is fixed.",
                    error=type(error).__name__, detail=error))
                cron._commit_progress(0)
                continue
            if state in ACTIVE_STATES:
                # Out of time: the cron is rescheduled and resumes at the checkpoint.
                self._wake_next_step()
                cron._commit_progress(0, remaining=run._remaining_estimate())
                return

    @api.model
    def _wake_next_step(self):
        # A partially done job is only "ready again": a cron worker takes it at its next
        # wake-up, up to a minute later (SLEEP_INTERVAL), which left the worker idle three
        # times as long as it worked.  A trigger for now wakes it once this step commits.
        self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger()
