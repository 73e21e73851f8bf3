# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from ..models import crm_migration_run as run_module
from ..services.constants import LIVE_OPERATIONS
from ..services.loader import ObjectLoader
from .common import CrmMigrationCommon, MigrationCaseMixin, make_csv


@tagged('crm_migration', 'post_install', '-at_install')
class TestConcurrency(CrmMigrationCommon):

    def _counts(self, run):
        return {stat.object_id.name: (stat.read_count, stat.created_count, stat.updated_count,
                                      stat.unchanged_count, stat.failed_count) for stat in run.stat_ids}

    def test_double_start_gives_one_run(self):
        """The second click sees the first click's queued run and is refused."""
        self.project.sample_size = 6
        self.approve()
        self.project.action_start_run()
        with self.assertRaisesRegex(UserError, 'already queued or running'):
            self.project.action_start_run()
        self.assertEqual(len(self.project.run_ids.filtered(lambda r: r.kind == 'full')), 1)

    def test_time_boxed_steps_finish_with_exact_counts(self):
        """With a zero time box every "Process now" does one batch; the counts match one long step."""
        self.project.batch_size = 2
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '0')
        self.project._check_ready()
        run = self.project._create_run('full')
        steps = 0
        while run.state in ('queued', 'running'):
            run.action_process_now()
            steps += 1
            self.assertLess(steps, 200, "the run must advance at every step")
        self.assertEqual(run.state, 'done', run.message)
        self.assertGreater(steps, 3, "the work was spread over several steps")
        stepped = self._counts(run)
        self.run_rollback(of_run=run)
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '')
        self.assertEqual(self._counts(self.run_full()), stepped)


@tagged('crm_migration', 'post_install', '-at_install')
class TestRunLocks(CrmMigrationCommon):
    """Locks need rows another transaction can see: these tests commit their own and remove them."""

    def test_process_now_refused_while_the_cron_holds_the_run(self):
        with self.registry.cursor() as cron_cr:
            cron_env = self.env(cr=cron_cr)
            project = cron_env['crm.migration.project'].create({'name': 'Locked clinic'})
            run = cron_env['crm.migration.run'].create({'project_id': project.id, 'kind': 'full'})
            cron_cr.commit()
            try:
                # What the cron does while it works on the run.
                self.assertTrue(run.try_lock_for_update())
                with self.registry.cursor() as user_cr:
                    user_run = self.env(cr=user_cr)['crm.migration.run'].browse(run.id)
                    with self.assertRaisesRegex(UserError, 'processed in the background'):
                        user_run.action_process_now()
            finally:
                cron_cr.rollback()
                run.unlink()
                project.object_ids.field_ids.unlink()
                project.unlink()
                cron_cr.commit()

    def test_second_action_refused_while_the_project_is_held(self):
        with self.registry.cursor() as first_cr:
            project = self.env(cr=first_cr)['crm.migration.project'].create({'name': 'Busy clinic'})
            first_cr.commit()
            try:
                project._lock_project()  # a first click, still in its transaction
                with self.registry.cursor() as second_cr:
                    second = self.env(cr=second_cr)['crm.migration.project'].browse(project.id)
                    with self.assertRaisesRegex(UserError, 'Another action on project Busy clinic'):
                        second._prepare_rollback()
            finally:
                first_cr.rollback()
                project.object_ids.field_ids.unlink()
                project.unlink()
                first_cr.commit()


PATIENT_HEADER = ['Patient ID', 'First Name', 'Last Name', 'Email', 'Phone', 'Notes']


def patient_rows(phone_p1='0411 000 001'):
    return [PATIENT_HEADER,
            ['P1', 'Ann', 'First', 'p1@example.test', phone_p1, ''],
            ['P2', 'Bob', 'Second', 'p2@example.test', '0411 000 002', ''],
            ['P3', 'Cid', 'Third', 'p3@example.test', '0411 000 003', '']]


@tagged('crm_migration', 'post_install', '-at_install')
class TestUserSaveConflicts(MigrationCaseMixin, TransactionCase):
    """A user saves a record while a batch of the run writes it, in two real transactions.

    The rows must be visible to a second cursor, so the project is committed (without x_ fields,
    which would change the schema for the other tests) and removed again at the end.
    """

    def setUp(self):
        super().setUp()
        self.cron_cr = self.registry.cursor()
        self.addCleanup(self.cron_cr.close)
        self.cron_env = self.env(cr=self.cron_cr)
        self.project = self.cron_env['crm.migration.project'].create(
            {'name': 'Conflict clinic', 'batch_size': 2, 'source_tz': 'Australia/Sydney'})
        self.project._upload_export({'patients.csv': make_csv(patient_rows())})
        self.project.object_ids.field_ids.filtered(lambda line: line.target_field.startswith('x_')).enabled = False
        self.project.action_confirm_mapping()
        self.cron_cr.commit()
        self.addCleanup(self._remove_project)
        self.full = self._run('full')
        self.assertEqual(self.full.state, 'done', self.full.message)
        self.lead_p1 = self.link('patients', 'P1').res_id

    def _remove_project(self):
        self.cron_cr.rollback()
        project = self.project
        live = project.record_ids.filtered(lambda r: r.operation in LIVE_OPERATIONS)
        if live:
            run = project._create_run('rollback', force=True)
            run._execute(commit=self._commit)
        project.custom_view_ids.unlink()
        self.cron_env['ir.attachment'].search([('res_model', '=', project._name), ('res_id', '=', project.id)]).unlink()
        project.object_ids.field_ids.unlink()
        project.unlink()
        self.cron_cr.commit()

    def _commit(self, _processed):
        # What the cron's _commit_progress does outside a cron job: commit, time left.
        self.cron_cr.commit()
        return float('inf')

    def _run(self, kind, **values):
        self.project._check_ready()
        run = self.project._create_run(kind, **values)
        self.cron_cr.commit()
        run._execute(commit=self._commit)
        return run

    def _user_env(self, cr):
        return self.env(cr=cr, user=self.env.ref('base.user_admin'))

    def link(self, object_name, source_id, model=None):
        obj = self.project.object_ids.filtered(lambda o: o.name == object_name)
        return self.cron_env['crm.migration.record'].search([
            ('object_id', '=', obj.id), ('source_id', '=', source_id),
            ('res_model', '=', model or obj.target_model)])

    def test_serialization_failure_retries_the_batch(self):
        """The user commits a save after the batch's snapshot: the batch is retried on a fresh one."""
        self.project._upload_export({'patients.csv': make_csv(patient_rows(phone_p1='0499 999 999'))})
        self.cron_cr.commit()
        saves, writes = [], []
        original = ObjectLoader._write

        def write_while_a_user_saves(loader, entries):
            writes.append(sorted(entry.source_id for entry in entries))
            if not saves and any(entry.source_id == 'P1' for entry in entries):
                # The batch has read P1 (its snapshot is taken); a user saves P1 and commits.
                with self.registry.cursor() as user_cr:
                    user_env = self._user_env(user_cr)
                    user_env['crm.lead'].browse(self.lead_p1).write(
                        {'description': '<p>Called back, prefers mornings</p>'}
                    )
                    user_env.flush_all()
                    user_cr.commit()
                with self.registry.cursor() as other_cr:
                    other_cr.execute("SELECT description FROM crm_lead WHERE id = %s", [self.lead_p1])
                    saves.append('Called back' in str(other_cr.fetchone()[0]))
            return original(loader, entries)

        with patch.object(ObjectLoader, '_write', write_while_a_user_saves), \
                patch.object(run_module, 'CONFLICT_BACKOFF', 0.01):
            rerun = self._run('full')
        self.assertEqual(saves, [True], "the user's save was committed while the batch ran")
        self.assertEqual(writes, [['P1'], ['P1']], "the conflicting batch was written twice: undone, then retried")
        self.assertEqual(rerun.state, 'done', rerun.message)
        self.assertStat(rerun, 'patients', read=3, updated=1, unchanged=2, failed=0)
        self.cron_env.invalidate_all()
        lead = self.cron_env['crm.lead'].browse(self.lead_p1)
        self.assertEqual(lead.phone, '0499 999 999', "the source's change landed")
        self.assertIn('Called back', lead.description, "the user's save stands")

    def test_row_lock_held_by_a_user_defers_the_rollback_batch(self):
        """A user's save holds the lead's row: the rollback batch waits, gives up, and the run stays
        running; once the save commits, the next step finishes and keeps the user's edit."""
        user_cr = self.registry.cursor()
        self.addCleanup(user_cr.close)
        self._user_env(user_cr)['crm.lead'].browse(self.lead_p1).write({'description': '<p>Saving...</p>'})
        self._user_env(user_cr).flush_all()  # the UPDATE is sent: the row is locked until commit
        leads = self.project.record_ids.filtered(lambda r: r.res_model == 'crm.lead').mapped('res_id')
        with patch.object(run_module, 'LOCK_TIMEOUT_MS', 100), patch.object(run_module, 'CONFLICT_BACKOFF', 0.01):
            rollback = self._run('rollback', rollback_of_id=self.full.id)
        self.assertEqual(rollback.state, 'running', "left for a later step, not stopped")
        self.assertTrue(rollback.resume_at)
        self.assertIn('LockNotAvailable', rollback.message)
        self.assertIn(self.lead_p1, self.cron_env['crm.lead'].browse(leads).exists().ids,
                      "the batch holding the locked lead was undone whole")
        user_cr.commit()
        self.cron_cr.commit()
        rollback._execute(commit=self._commit)
        self.assertEqual(rollback.state, 'done', rollback.message)
        self.assertEqual(self.cron_env['crm.lead'].browse(leads).exists().ids, [self.lead_p1],
                         "the lead the user saved is kept, the others are removed")
        self.assertIn('Kept by the rollback', self.link('patients', 'P1').message)

    def test_process_now_leaves_a_conflicting_batch_to_the_cron(self):
        """In a request (no commit between batches) a conflict ends the step without an error."""
        user_cr = self.registry.cursor()
        self.addCleanup(user_cr.close)
        self.project._check_ready()
        run = self.project._create_run('rollback', rollback_of_id=self.full.id)
        self.cron_cr.commit()
        self._user_env(user_cr)['crm.lead'].browse(self.lead_p1).write({'description': '<p>Saving...</p>'})
        self._user_env(user_cr).flush_all()
        with patch.object(run_module, 'LOCK_TIMEOUT_MS', 100), patch.object(run_module, 'CONFLICT_BACKOFF', 0.01):
            run.action_process_now()
        self.assertEqual(run.state, 'running')
        self.assertIn('tried again at', run.message)
        user_cr.rollback()
        self.cron_cr.commit()
        run._execute(commit=self._commit)
        self.assertEqual(run.state, 'done', run.message)
        self.assertFalse(self.cron_env['crm.lead'].browse(self.lead_p1).exists())
