# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Full runs on OCA queue_job (installed by scripts/test.sh when Odoo's Python has it).

Jobs are real ``queue.job`` rows with their dependencies; the tests perform them
the way the job runner does (``RunJobController._runjob``: perform, mark done,
enqueue the dependents), but in an order of their choosing.
"""
import unittest
from unittest.mock import patch

from odoo.tests import tagged

from ..services import jobs
from ..services.loader import ObjectLoader
from .common import CrmMigrationCommon

# The counters of the same export loaded by the cron (tests/test_clinic_migration.py).
EXPECTED = {
    'practitioners': dict(source=3, read=3, created=2, updated=0, unchanged=0, skipped=1, failed=0),
    'patients': dict(source=6, read=6, created=5, updated=0, unchanged=0, skipped=0, failed=1),
    'appointments': dict(source=7, read=7, created=4, updated=0, unchanged=0, skipped=0, failed=3),
    'invoices': dict(source=3, read=3, created=2, updated=0, unchanged=0, skipped=0, failed=1),
    'invoice_lines': dict(source=4, read=4, created=3, updated=0, unchanged=0, skipped=0, failed=1),
    'attachments': dict(source=3, read=3, created=2, updated=0, unchanged=0, skipped=0, failed=1),
}


class Killed(BaseException):
    """A worker killed in the middle of a job: nothing of the job's transaction is committed."""


@tagged('crm_migration', 'post_install', '-at_install')
class TestQueueJob(CrmMigrationCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not jobs.installed(cls.env):
            raise unittest.SkipTest("queue_job is not installed (scripts/setup.sh installs it)")
        from odoo.addons.queue_job.controllers.main import RunJobController  # noqa: PLC0415
        from odoo.addons.queue_job.job import Job  # noqa: PLC0415

        cls.Job, cls.controller = Job, RunJobController
        cls.env['ir.config_parameter'].set_param(jobs.PARAM, '1')
        cls.project.batch_size = 2
        cls.project._check_ready()
        cls.counts_before = cls.target_counts(cls)

    def start(self):
        run = self.project._create_run('full')
        run._schedule()
        self.assertTrue(run.use_queue_job)
        return run

    def pending(self):
        return self.env['queue.job'].search([('state', '=', 'pending')], order='id')

    def perform(self, job_record):
        """One job as the runner performs it."""
        job = self.Job.load(self.env, job_record.uuid)
        job.set_started()
        job.store()
        with self.enter_registry_test_mode():
            self.controller._runjob(self.env, job)
        job_record.invalidate_recordset()
        return job

    def perform_all(self, reverse=True, until=None):
        """Perform the jobs ready to run until none is left, and return their names.

        Among the ready jobs, plan, close and finish jobs go first, then batches in
        the order the plan cut them, or the last slice first (``reverse``): an
        order no single worker would follow.
        """
        done = []

        def order(job):
            batch = job.args[0] if job.method_name == '_job_load_batch' else 0
            return (bool(batch), -batch if reverse else batch, job.id)

        for _step in range(500):
            pending = self.pending()
            if not pending or (until and until(done)):
                return done
            record = min(pending, key=order)
            done.append(record.name)
            self.perform(record)
            self.assertNotEqual(record.state, 'failed', record.exc_info)
        self.fail("jobs never end")

    def assertExactRun(self, run):
        self.assertEqual(run.state, 'done', run.message)
        for name, expected in EXPECTED.items():
            self.assertStat(run, name, **expected)
        after = self.target_counts()
        delta = {model: after[model] - self.counts_before[model] for model in after}
        # As the cron's run: 5 patients + 4 appointments, 2 practitioners + 2 contacts, 2 orders...
        self.assertEqual(delta['crm.lead'], 9, "no lead twice")
        self.assertEqual(delta['res.partner'], 4)
        self.assertEqual(delta['sale.order'], 2)
        self.assertEqual(delta['mail.activity'], 4)
        self.assertEqual(delta['ir.attachment'], 2)
        links = self.env['crm.migration.record'].search([('project_id', '=', self.project.id)])
        self.assertEqual(len(links), len({(r.object_id.id, r.source_id, r.res_model) for r in links}))
        self.assertFalse(run.batch_ids.filtered(lambda b: b.state != 'done'))

    def test_parallel_run_in_reverse_order_has_exact_counts(self):
        run = self.start()
        self.assertEqual(len(self.pending()), 1, "one job plans the run")
        with self.enter_registry_test_mode():
            self.env.ref('crm_migration.ir_cron_crm_migration_run').method_direct_trigger()
        run.invalidate_recordset()
        self.assertEqual((run.state, len(run.batch_ids)), ('queued', 0), "the cron leaves it to the workers")
        order = self.perform_all(reverse=True)
        self.assertTrue(order[0].startswith('Plan'))
        # Every object is cut into slices of 2 rows planned at once: patients 1-2, 3-4, 5-6...
        patients = run.batch_ids.filtered(lambda b: b.object_id.name == 'patients')
        self.assertEqual(patients.mapped('offset'), [0, 2, 4])
        self.assertEqual(run.batch_count, 2 + 3 + 4 + 2 + 2 + 2)
        # ... performed newest first: the last slice of each object before its first.
        first = [name for name in order if ' rows ' in name and name.startswith('Patient')]
        self.assertEqual(first[0].split(' rows ')[1].split(' ')[0], '5-6', order)
        # PR1 and PR3 share an e-mail: the cron keeps the first line and holds the other back, so
        # practitioners load in file order; patients, without such a pair, in parallel.
        practitioners = run.batch_ids.filtered(lambda b: b.object_id.name == 'practitioners')
        self.assertEqual(set(practitioners.mapped('in_file_order')),
                         {'duplicate key anna@clinic.test appears in two batches'})
        self.assertFalse(patients.filtered('in_file_order'))
        slices = [name.split(' rows ')[1].split(' ')[0] for name in order if name.startswith('Practitioners rows')]
        self.assertEqual(slices, ['1-2', '3-4'])
        # Appointments look patients and practitioners up: none ran before both were closed.
        index = {name: position for position, name in enumerate(order)}
        closes = {name.split(' of ')[0]: index[name] for name in order if 'links and totals' in name}
        for name in order:
            if name.startswith('Appointment') and ' rows ' in name:
                self.assertGreater(index[name], closes['Patients'], order)
                self.assertGreater(index[name], closes['Practitioners'], order)
        self.assertTrue(order[-1].startswith('Finish'))
        self.assertExactRun(run)
        self.assertEqual(run.project_id.state, 'done')
        self.assertEqual((run.job_done_count, run.job_pending_count, run.job_failed_count),
                         (len(order) - 1, 0, 0), "the form counts the graph's jobs (the plan job aside)")

    def test_in_enqueue_order_gives_the_same_counts(self):
        run = self.start()
        self.perform_all(reverse=False)
        self.assertExactRun(run)

    def test_killed_job_is_loaded_again_once(self):
        """A worker killed inside a batch (records written, not committed), the job requeued as queue_job's
        dead-job requeuer does, and a job performed again after it committed: exact counts."""
        run = self.start()
        self.perform_all(until=lambda done: any(name.startswith('Patient') and ' rows ' in name for name in done))
        patients = run.batch_ids.filtered(lambda b: b.object_id.name == 'patients')
        self.assertEqual(len(patients.filtered(lambda b: b.state == 'done')), 1)
        self.assertEqual(run.job_failed_count, 0)
        self.assertGreater(run.job_pending_count, 0, "the form shows the jobs still to do")
        victim = self.pending().filtered(lambda j: j.name.startswith('Patient'))[:1]
        self.assertTrue(victim)
        leads = self.env['crm.lead'].search_count([])
        job = self.Job.load(self.env, victim.uuid)
        job.set_started()
        job.store()
        real_record = ObjectLoader._record

        def killed(loader, entries):
            real_record(loader, entries)
            raise Killed()

        with patch.object(ObjectLoader, '_record', killed), self.assertRaises(Killed):
            with self.env.cr.savepoint():  # the transaction the kill loses
                job.perform()
        self.env.invalidate_all()
        self.assertEqual(self.env['crm.lead'].search_count([]), leads, "nothing of the killed job is left")
        victim.invalidate_recordset()
        self.assertEqual(victim.state, 'started')
        job.set_pending()  # what the runner does with a started job whose worker is gone
        job.store()
        done = self.env['queue.job'].search([('state', '=', 'done'), ('name', '=like', 'Patients rows %')], limit=1)
        self.perform_all()
        # The runner may start a job that had in fact committed (requeued too early): it loads nothing.
        again = self.Job.load(self.env, done.uuid)
        self.assertIn('Nothing to do', again.perform())
        self.assertExactRun(run)

    def test_failed_batch_stops_the_run_and_resume_plans_what_is_left(self):
        run = self.start()
        real_load = ObjectLoader.load

        def failing(loader, rows):
            if loader.obj.name == 'appointments' and rows and rows[0].get('_line_nr') == 2:
                raise RuntimeError("disk full")
            return real_load(loader, rows)

        with patch.object(ObjectLoader, 'load', failing):
            self.perform_all()
        self.assertEqual(run.state, 'failed')
        self.assertIn('disk full', run.message)
        self.assertEqual(run.job_failed_count, 0, "the job ended; the run says what stopped it")
        left = run.batch_ids.filtered(lambda b: b.state != 'done')
        self.assertTrue(left.filtered(lambda b: b.object_id.name == 'appointments' and b.offset == 0))
        generation = run.job_generation
        run.action_resume()
        self.assertEqual(run.job_generation, generation + 1)
        order = self.perform_all()
        planned = [name for name in order if ' rows ' in name]
        self.assertEqual(len(planned), len(left), "only the batches not loaded are planned again")
        self.assertExactRun(run)

    def test_pause_leaves_batches_for_resume(self):
        run = self.start()
        self.perform_all(until=lambda done: len(done) >= 3)
        run.action_pause()
        self.perform_all()  # the jobs still queued find the run paused and do nothing
        self.assertEqual(run.state, 'paused')
        self.assertTrue(run.batch_ids.filtered(lambda b: b.state == 'pending'))
        run.action_resume()
        self.perform_all()
        self.assertExactRun(run)

    def test_switched_off_or_without_runner_the_cron_runs_it(self):
        Param = self.env['ir.config_parameter']
        for value in ('0', 'auto'):  # "auto": no job runner loaded in this test server
            Param.set_param(jobs.PARAM, value)
            run = self.project._create_run('full')
            run._schedule()
            self.assertFalse(run.use_queue_job, value)
            self.assertFalse(self.pending(), value)
            run.action_cancel()
        with patch.object(jobs, 'config', {'server_wide_modules': ['base', 'web', 'queue_job']}):
            self.assertTrue(jobs.enabled(self.env), "auto with the runner loaded (--load=web,queue_job)")
