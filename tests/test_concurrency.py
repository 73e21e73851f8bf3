# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import CrmMigrationCommon


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
