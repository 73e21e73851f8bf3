# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

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
        sample = project.run_ids.filtered(lambda r: r.kind == 'sample')
        self.assertEqual(sample.state, 'queued')
        self.assertEqual(
            project.run_ids.mapped('create_uid'), self.manager, "the audit and the sample are the manager's"
        )

    def test_other_company_projects_are_hidden(self):
        other = self.env['res.company'].create({'name': 'Other clinic'})
        hidden = self.env['crm.migration.project'].create({'name': 'Hidden', 'company_id': other.id})
        visible = self.env['crm.migration.project'].with_user(self.user).search([])
        self.assertIn(self.project, visible)
        self.assertNotIn(hidden, visible)


@tagged('crm_migration', 'post_install', '-at_install')
class TestCredentials(CrmMigrationCommon):
    """Secrets: managers only, never in logs, messages, copies or exports."""

    SECRET = 'MS0xMjM0NTY3ODk-secret-au2'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, 'migration_reader', groups='crm_migration.group_crm_migration_user')
        cls.api_project = cls.env['crm.migration.project'].create({
            'name': 'Cliniko clinic', 'source_type': 'cliniko', 'api_key': cls.SECRET,
            'api_user_agent': 'Clinic migration (it@clinic.example)'})

    def test_user_cannot_read_credentials(self):
        project = self.api_project.with_user(self.user)
        self.assertEqual(project.name, 'Cliniko clinic')
        with self.assertRaises(AccessError):
            project.api_key  # noqa: B018  # pylint: disable=pointless-statement  # reading is the test
        with self.assertRaises(AccessError):
            project.read(['api_key'])
        self.assertNotIn('api_key', project.fields_get())

    def test_secret_not_copied_exported_or_tracked(self):
        copy = self.api_project.copy()
        self.assertFalse(copy.api_key)
        self.assertFalse(self.env['crm.migration.project']._fields['api_key'].exportable)
        self.api_project.api_key = self.SECRET + 'x'
        bodies = ' '.join(self.api_project.message_ids.mapped('body'))
        self.assertNotIn(self.SECRET, bodies)
        self.assertNotIn(self.SECRET, str(self.api_project.message_ids.tracking_value_ids.mapped('new_value_char')))

    def test_secret_never_logged_nor_shown_on_failure(self):
        from .api_server import ApiServer, Reply
        server = ApiServer()
        self.addCleanup(server.close)
        server.script('GET', '/v1/user', Reply(401, {'message': 'bad key ' + self.SECRET}))
        self.api_project.api_base_url = server.url + '/v1'
        with self.assertLogs('odoo.addons.crm_migration', level='DEBUG') as logs:
            logging.getLogger('odoo.addons.crm_migration').debug('start')
            action = self.api_project.action_test_connection()
        self.assertEqual(action['params']['type'], 'danger')
        shown = action['params']['message'] + (self.api_project.connection_message or '')
        self.assertIn('Not connected', shown)
        self.assertNotIn(self.SECRET, shown)
        self.assertNotIn(self.SECRET, '\n'.join(logs.output))
        self.assertTrue(server.requests('GET', '/v1/user'), "the request really went to the loopback API")


@tagged('crm_migration', 'post_install', '-at_install')
class TestUploadGuards(CrmMigrationCommon):

    def test_upload_size_limit_and_zip_guard(self):
        import io
        import zipfile

        from odoo.exceptions import UserError

        self.env['ir.config_parameter'].sudo().set_param('crm_migration.max_upload_mb', '1')
        big = self.env['ir.attachment'].create({'name': 'huge.csv', 'raw': b'id,name\n' + b'1,x\n' * 300000})
        wizard = self.env['crm.migration.upload'].create({'project_id': self.project.id,
                                                          'attachment_ids': [(6, 0, big.ids)]})
        with self.assertRaisesRegex(UserError, 'huge.csv exceed the upload limit of 1 MB'):
            wizard.action_detect()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            archive.writestr('patients.csv', b'id,name\n' + b'1,x\n' * 300000)
        bomb = self.env['ir.attachment'].create({'name': 'export.zip', 'raw': buffer.getvalue()})
        self.assertLess(bomb.file_size, 2**20, "small once zipped")
        wizard = self.env['crm.migration.upload'].create({'project_id': self.project.id,
                                                          'attachment_ids': [(6, 0, bomb.ids)]})
        with self.assertRaisesRegex(UserError, 'too large once unzipped'):
            wizard.action_detect()
