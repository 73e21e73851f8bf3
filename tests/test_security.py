# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CrmMigrationCommon


@tagged('crm_migration', 'post_install', '-at_install')
class TestSecurity(CrmMigrationCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, 'migration_user', groups='crm_migration.group_crm_migration_user')
        cls.manager = new_test_user(cls.env, 'migration_manager', groups='crm_migration.group_crm_migration_manager')

    def test_user_reads_but_cannot_run_or_configure(self):
        project = self.project.with_user(self.user)
        self.assertEqual(project.name, 'Sample clinic')
        self.assertTrue(project.object_ids.field_ids)
        with self.assertRaises(AccessError):
            project.write({'batch_size': 10})
        for action in ('action_start_run', 'action_confirm_mapping', 'action_audit', 'action_sample',
                       'action_rollback', 'action_approve'):
            with self.assertRaises(AccessError):
                getattr(project, action)()
        with self.assertRaises(AccessError):
            self.env['crm.migration.run'].with_user(self.user).create({'project_id': self.project.id})

    def test_manager_runs(self):
        project = self.project.with_user(self.manager)
        project.action_confirm_mapping()
        project.action_audit()
        self.assertTrue(project.issue_ids)
        project.issue_ids.action_accept()
        project.action_sample()
        self.assertEqual(project.run_ids.state, 'queued')
        self.assertEqual(project.run_ids.create_uid, self.manager)

    def test_other_company_projects_are_hidden(self):
        other = self.env['res.company'].create({'name': 'Other clinic'})
        hidden = self.env['crm.migration.project'].create({'name': 'Hidden', 'company_id': other.id})
        visible = self.env['crm.migration.project'].with_user(self.user).search([])
        self.assertIn(self.project, visible)
        self.assertNotIn(hidden, visible)
