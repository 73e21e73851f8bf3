# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Full runs on OCA queue_job, when it is installed: batches in parallel on several workers.

The job graph of a run (built by ``_job_plan``)::

    plan ──► batches of A (in parallel) ──► close A ──► batches of B ──► close B ──► finish
         └─► batches of C ─────────────────► close C ──────────────────────────────┘

B looks A up (appointments → patients), so each of B's batches waits for A's
close job; C looks nothing up and runs alongside.  Close jobs do what the cron
does when an object is exhausted (links between rows of the object, totals,
the counters); the finish job replays document states and ends the run.

Each job is one transaction (queue_job forbids commits inside a job): a batch's
rows, link rows and counters land together or not at all.  A job re-run after
its worker was killed finds its batch pending and loads it; a job performed
twice finds it done and does nothing.  Jobs of an older plan (a run paused and
resumed re-plans what is left) see a newer ``job_generation`` and do nothing.
"""
import itertools
import logging
import random

from psycopg2 import OperationalError, errorcodes, errors

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from ..connectors.exceptions import ConnectorError
from ..services import jobs
from ..services.loader import ObjectLoader, apply_totals, resolve_pending_links, run_pending_actions
from .crm_migration_run import ACTIVE_STATES
from .crm_migration_run_batch import COUNTERS

_logger = logging.getLogger(__name__)


def _retryable(error):
    """Two batches raced (both inserted the same link row or tag, or updated one row)."""
    if isinstance(error, errors.UniqueViolation):
        return True
    return isinstance(error, OperationalError) and error.pgcode in PG_CONCURRENCY_ERRORS_TO_RETRY


class CrmMigrationRun(models.Model):
    _inherit = 'crm.migration.run'

    # queue_job
    use_queue_job = fields.Boolean(
        'On queue_job', readonly=True, copy=False,
        help="Batches of this run are queue_job jobs, processed in parallel on the crm_migration channel.")
    job_generation = fields.Integer(readonly=True, copy=False,
                                    help="Bumped by each plan: jobs of an older plan do nothing.")
    job_graph_uuid = fields.Char(readonly=True, copy=False)
    batch_ids = fields.One2many('crm.migration.run.batch', 'run_id', string='Batches')
    batch_count = fields.Integer(compute='_compute_job_progress', string='Batches planned')
    batch_done_count = fields.Integer(compute='_compute_job_progress', string='Batches done')
    job_done_count = fields.Integer(compute='_compute_job_progress', string='Jobs done')
    job_pending_count = fields.Integer(compute='_compute_job_progress', string='Jobs waiting or running')
    job_failed_count = fields.Integer(compute='_compute_job_progress', string='Jobs failed')

    def _compute_job_progress(self):
        batches = self.env['crm.migration.run.batch']._read_group(
            [('run_id', 'in', self.ids)], ['run_id', 'state'], ['__count'])
        planned, done = {}, {}
        for run, state, count in batches:
            planned[run] = planned.get(run, 0) + count
            if state == 'done':
                done[run] = count
        job_counts = {}
        uuids = [uuid for uuid in self.mapped('job_graph_uuid') if uuid]
        if uuids and jobs.installed(self.env):
            # Read as the system: queue_job shows jobs to its own managers only.
            for uuid, state, count in self.env['queue.job'].sudo()._read_group(
                    [('graph_uuid', 'in', uuids)], ['graph_uuid', 'state'], ['__count']):
                job_counts[uuid, state] = count
        for run in self:
            run.batch_count = planned.get(run, 0)
            run.batch_done_count = done.get(run, 0)
            uuid = run.job_graph_uuid
            run.job_done_count = job_counts.get((uuid, 'done'), 0)
            run.job_failed_count = job_counts.get((uuid, 'failed'), 0)
            run.job_pending_count = sum(job_counts.get((uuid, state), 0) for state in (
                'wait_dependencies', 'pending', 'enqueued', 'started'))

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_process_now(self):
        on_jobs = self.filtered(lambda r: r.use_queue_job and r.state in ACTIVE_STATES)
        if on_jobs:
            # Loading here as well would race the workers on the same rows.
            raise UserError(self.env._(
                "%s runs on queue_job: its batches are processed by the job workers; their progress shows here.",
                on_jobs[0].display_name))
        return super().action_process_now()

    def action_open_jobs(self):
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'name': self.env._('Jobs of %s', self.display_name),
                'res_model': 'queue.job', 'view_mode': 'list,form',
                'domain': [('graph_uuid', '=', self.job_graph_uuid)]}

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _schedule(self, at=None):  # pylint: disable=missing-return  # the cron's _schedule returns nothing
        on_jobs = self.filtered(lambda r: r._runs_on_queue_job())
        if self - on_jobs:
            super(CrmMigrationRun, self - on_jobs)._schedule(at)
        if on_jobs:
            jobs.ensure_channel(self.env)
        for run in on_jobs:
            run.write({'state': 'queued', 'use_queue_job': True, 'job_generation': run.job_generation + 1})
            run.sudo().with_delay(channel=jobs.CHANNEL, eta=at, description=self.env._(
                "Plan the batches of %s", run.display_name))._job_plan(run.job_generation)

    def _runs_on_queue_job(self):
        """Full runs of exports decide once, at their first start; anything else stays on the cron.

        A file is read at any row offset, which gives batches that can run in any
        order; an API is read page after page through a cursor, and sample, delta
        and rollback runs are small or ordered by nature.
        """
        self.ensure_one()
        if self.use_queue_job:
            return True
        return (not self.date_start and self.kind == 'full' and self.project_id._is_file_source()
                and jobs.enabled(self.env))

    def _job_is_current(self, generation):
        # Read what other transactions committed (a pause, a newer plan) before doing anything.
        self.invalidate_recordset(['state', 'job_generation'])
        return self.exists() and self.job_generation == generation

    # ------------------------------------------------------------------
    # JOBS
    # ------------------------------------------------------------------
    def _job_plan(self, generation):
        """First job of a plan: start the run, cut each object into batches, enqueue the graph."""
        self.ensure_one()
        if not self._job_is_current(generation) or self.state not in ACTIVE_STATES:
            return "Nothing to do: the run is %s or was planned again." % self.state
        try:
            with self.env.cr.savepoint():
                return self._plan(generation)
        except Exception as error:  # noqa: BLE001 - a run left "queued" for ever is worse than any error
            if _retryable(error):
                raise
            return self._stop_on(error, "planning")

    def _plan(self, generation):
        """The plan job's work, in a savepoint: a failure stops the run with nothing half-planned."""
        if self.state == 'queued' and not self.date_start:
            self._start()  # x_ fields are created here, before any batch job can run
        elif self.state == 'queued':
            self.state = 'running'
        Batch = self.env['crm.migration.run.batch']
        size = max(self.project_id.batch_size, 1)
        source = None
        objects = self._objects()
        for index, obj in enumerate(objects):
            stat = self.stat_ids.filtered(lambda s, obj=obj: s.object_id == obj)
            if stat.done or Batch.search_count([('run_id', '=', self.id), ('object_id', '=', obj.id)]):
                continue
            source = source or self.project_id._get_source()
            count, in_order = jobs.plan_object(obj, source.iter_rows(obj._source_name()), size)
            stat.source_count = count
            Batch.create([{'run_id': self.id, 'object_id': obj.id, 'sequence': index, 'offset': offset,
                           'size': size, 'in_file_order': in_order} for offset in range(0, count, size)])
        # The plan's only write on the run row before the batches: they never write it.
        self.current_object_id = False
        vertices = self._job_graph(objects, generation)
        # One group of every job: delay() follows edges from parents to children only,
        # and the graph has several roots (objects that look nothing up).
        from odoo.addons.queue_job.delay import group  # noqa: PLC0415

        group(*vertices).delay()
        self.job_graph_uuid = vertices[0]._generated_job.graph_uuid
        return "Planned %d batch jobs." % len(self.batch_ids.filtered(lambda b: b.state == 'pending'))

    def _job_graph(self, objects, generation):
        """Delayables, the finish job first: each object's pending batches after the close jobs
        of the objects it looks up, its close job after them, the finish job last."""
        run = self.sudo()
        label = self.display_name

        def delayable(description):
            return run.delayable(channel=jobs.CHANNEL, description=description)

        finish = delayable(self.env._("Finish %s", label))._job_finish(generation)
        vertices, closes = [finish], {}
        for obj in objects:
            stat = self.stat_ids.filtered(lambda s, obj=obj: s.object_id == obj)
            if stat.done:
                continue
            close = delayable(self.env._("%(object)s of %(run)s: links and totals", object=obj.label, run=label)
                              )._job_close_object(obj.id, generation)
            parents = [closes[dep] for dep in obj.depends_on_ids if dep in closes]
            batches = self.batch_ids.filtered(lambda b, obj=obj: b.object_id == obj and b.state == 'pending')
            previous = None
            for batch in batches.sorted('offset'):
                job = delayable(self.env._("%(object)s rows %(first)d-%(last)d of %(run)s", object=obj.label,
                                           first=batch.offset + 1, last=batch.offset + batch.size, run=label)
                                )._job_load_batch(batch.id, generation)
                if batch.in_file_order and previous:
                    previous.on_done(job)  # a chain: each batch after the one before it
                else:
                    for parent in parents:
                        parent.on_done(job)
                if not batch.in_file_order:
                    job.on_done(close)
                vertices.append(job)
                previous = job
            if previous and batches[:1].in_file_order:
                previous.on_done(close)
            if not batches:
                for parent in parents:
                    parent.on_done(close)
            close.on_done(finish)
            closes[obj] = close
            vertices.append(close)
        return vertices

    def _job_load_batch(self, batch_id, generation):
        """Load one slice of rows through the same ObjectLoader as the cron, counters included."""
        self.ensure_one()
        batch = self.env['crm.migration.run.batch'].browse(batch_id).exists()
        if not self._job_is_current(generation) or self.state != 'running' or not batch:
            return "Nothing to do: the run is %s or was planned again." % self.state
        if not batch.try_lock_for_update():
            # The same slice in another worker right now (a job requeued while its first
            # performance still runs): wait for it, then find it done.
            from odoo.addons.queue_job.exception import RetryableJobError  # noqa: PLC0415

            raise RetryableJobError("batch %d is being loaded by another job" % batch.id, seconds=5,
                                    ignore_retry=True)
        batch.invalidate_recordset(['state'])
        if batch.state == 'done':
            return "Nothing to do: rows %d-%d are already loaded." % (batch.offset + 1, batch.offset + batch.size)
        obj = batch.object_id
        try:
            with self.env.cr.savepoint():
                source = self.project_id._get_source()
                rows = list(itertools.islice(source.iter_rows(obj._source_name(), offset=batch.offset), batch.size))
                counts = ObjectLoader(self, obj, source).load(rows) if rows else {}
        except Exception as error:  # noqa: BLE001 - as the cron: stop resumably rather than fail the job
            if _retryable(error):
                from odoo.addons.queue_job.exception import RetryableJobError  # noqa: PLC0415

                # Another batch inserted the same link row or tag, or wrote the same row,
                # and committed first: loading again sees it and counts it once.
                raise RetryableJobError("%s, loaded again" % (errorcodes.lookup(getattr(error, 'pgcode', None))
                                                               or type(error).__name__),
                                        seconds=random.uniform(1, 3), ignore_retry=True) from error
            return self._stop_on(error, "batch %d" % batch.id)
        values = {'%s_count' % name: counts.get(name, 0) for name in COUNTERS}
        batch.write(dict(values, state='done', date_done=fields.Datetime.now()))
        _logger.info("crm_migration run %s: %s rows %d-%d (%d read)", self.id, obj.name, batch.offset + 1,
                     batch.offset + batch.size, len(rows))
        return "Loaded %d rows: %s" % (len(rows), counts)

    def _stop_on(self, error, where):
        """As the cron does: the run stops resumably and says why; the job itself ends well."""
        expected = isinstance(error, (ConnectorError, UserError, OSError))
        _logger.warning("crm_migration run %s stopped in %s: %s", self.id, where, type(error).__name__,
                        exc_info=not expected)
        self._stop(error if expected else self.env._(
            "Stopped on an unexpected %(error)s: %(detail)s. Resume once the cause is fixed.",
            error=type(error).__name__, detail=error))
        return "Stopped the run: %s" % error

    def _job_close_object(self, object_id, generation):
        """All batches of the object are loaded: links between its rows, totals, its counters."""
        self.ensure_one()
        if not self._job_is_current(generation) or self.state != 'running':
            return "Nothing to do: the run is %s or was planned again." % self.state
        obj = self.env['crm.migration.object'].browse(object_id)
        stat = self.stat_ids.filtered(lambda s: s.object_id == obj)
        batches = self.batch_ids.filtered(lambda b: b.object_id == obj)
        if stat.done or batches.filtered(lambda b: b.state != 'done'):
            # A batch stopped the run or the run was paused: Resume plans what is left.
            return "Nothing to do: %d batches are not loaded." % len(batches.filtered(lambda b: b.state != 'done'))
        resolve_pending_links(self, obj)
        apply_totals(self, obj)
        totals = self.env['crm.migration.run.batch']._totals(batches)
        stat.write(dict({'%s_count' % name: value for name, value in totals.items()}, done=True))
        return "Closed %s: %s" % (obj.name, totals)

    def _job_finish(self, generation):
        """Every object is closed: replay document states (post invoices) a batch at a time, then done."""
        self.ensure_one()
        if not self._job_is_current(generation) or self.state != 'running':
            return "Nothing to do: the run is %s or was planned again." % self.state
        if self.stat_ids.filtered(lambda s: not s.done):
            return "Nothing to do: objects are not all loaded."
        limit = max(self.project_id.batch_size, 1)
        processed = run_pending_actions(self, limit)
        if processed >= limit:
            # More to replay: one job per batch keeps each under the worker's time limits.
            self.sudo().with_delay(channel=jobs.CHANNEL, description=self.env._(
                "Finish %s", self.display_name))._job_finish(generation)
            return "Replayed %d document states; more follow." % processed
        self._finish()
        return "Run done."
