# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The audit and the sample selection run in time-boxed background steps, with the findings
of a single pass: a 10,000-row export must not hold a request past Odoo's limit_time_real."""
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..services import audit
from .common import CrmMigrationCommon


def findings(project):
    return sorted((i.object_id.name, i.kind, i.source_id, i.message, i.related_source_id or '', i.blocking,
                   i.res_model or '', i.res_id) for i in project.issue_ids.filtered(lambda i: i.state == 'open'))


@tagged('crm_migration', 'post_install', '-at_install')
class TestAuditSteps(CrmMigrationCommon):

    def setUp(self):
        super().setUp()
        self.project.action_confirm_mapping()

    def stepped_audit(self):
        """The audit button with a zero time box and batches of 2 rows: one batch per step."""
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '0')
        self.project.batch_size = 1
        with patch.object(audit, 'BATCH_ROWS', 2):
            action = self.project.action_audit()
            run = self.env['crm.migration.run'].browse(action['res_id'])
            self.assertEqual(run.kind, 'audit')
            steps = 1
            while run.state in ('queued', 'running'):
                self.assertEqual(self.project.audit_run_id, run, "the project shows the audit in progress")
                run.action_process_now()
                steps += 1
                self.assertLess(steps, 100, "the audit advances at every step")
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '')
        self.assertEqual(run.state, 'done', run.message)
        return run, steps

    def test_stepped_audit_finds_what_one_pass_finds(self):
        audit.run_audit(self.project)
        expected = findings(self.project)
        self.assertGreater(len({kind for _obj, kind, *_rest in expected}), 2, "a messy export: several kinds")
        run, steps = self.stepped_audit()
        self.assertGreater(steps, 8, "spread over many steps")
        self.assertEqual(findings(self.project), expected)
        self.assertEqual(self.project.state, 'audited')
        self.assertFalse(self.project.audit_run_id)
        self.assertFalse(run.sudo().audit_state, "the checkpoint goes with the audit")
        self.assertEqual(run.read_count, sum(self.project.object_ids.filtered('enabled').mapped('row_count')))
        self.assertTrue(any('Audit: %s findings.' % len(expected) in str(body)
                            for body in self.project.message_ids.mapped('body')))

    def test_decisions_survive_a_stepped_audit(self):
        audit.run_audit(self.project)
        decided = self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate')[:1]
        self.assertTrue(decided)
        decided.action_skip()
        self.stepped_audit()
        self.assertEqual(decided.exists().state, 'resolved')
        self.assertFalse(self.project.issue_ids.filtered(
            lambda i: i.state == 'open' and (i.object_id, i.kind, i.source_id)
            == (decided.object_id, decided.kind, decided.source_id)), "a decided finding is not asked again")

    def test_one_audit_at_a_time_and_nothing_starts_meanwhile(self):
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '0')
        self.project.batch_size = 1
        with patch.object(audit, 'BATCH_ROWS', 2):
            self.project.action_audit()
        run = self.project.audit_run_id
        self.assertEqual(run.state, 'running')
        with self.assertRaisesRegex(UserError, 'already in progress'):
            self.project.action_audit()
        with self.assertRaisesRegex(UserError, 'already queued or running'):
            self.project.action_sample()
        with self.assertRaisesRegex(UserError, 'still reading the source'):
            self.project._check_no_blocking_issues()
        self.assertTrue(self.env['ir.cron.trigger'].search_count([
            ('cron_id', '=', self.env.ref('crm_migration.ir_cron_crm_migration_run').id)]))

    def test_audit_through_the_cron(self):
        self.project._start_audit(step_now=False)
        run = self.project.audit_run_id
        self.assertEqual(run.state, 'queued')
        self.assertFalse(self.project.issue_ids, "nothing is read in the click's request")
        with self.enter_registry_test_mode():
            self.env.ref('crm_migration.ir_cron_crm_migration_run').method_direct_trigger()
        run.invalidate_recordset()
        self.assertEqual(run.state, 'done', run.message)
        self.assertTrue(self.project.issue_ids)
        self.assertEqual(self.project.state, 'audited')

    def test_sample_rows_are_chosen_in_the_run(self):
        """Choosing the sample reads every file: the run's first step does it, not the click."""
        self.project.action_audit()
        self.project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        action = self.project.action_sample()
        run = self.env['crm.migration.run'].browse(action['res_id'])
        self.assertFalse(run.sample_ids)
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        self.assertTrue(run.sample_ids.get('patients'))
        self.assertEqual(self.stat(run, 'patients').read_count, len(run.sample_ids['patients']))
