# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Patient data stays behind CRM's own rules: the migration's side doors (uploaded exports,
diff values, values kept on link rows, row and issue messages) need the rights the records need."""
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CrmMigrationCommon


@tagged('crm_migration', 'post_install', '-at_install')
class TestPrivacy(CrmMigrationCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reader = new_test_user(cls.env, 'migration_reader_only', groups='crm_migration.group_crm_migration_user')
        cls.crm_reader = new_test_user(cls.env, 'migration_reader_crm', groups=','.join((
            'crm_migration.group_crm_migration_user', 'sales_team.group_sale_salesman_all_leads')))
        cls.manager = new_test_user(cls.env, 'migration_boss', groups='crm_migration.group_crm_migration_manager')
        project = cls.project
        project.action_confirm_mapping()
        project.action_audit()
        project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        cls.sample = cls.env['crm.migration.run'].browse(project.action_sample()['res_id'])
        cls.sample._execute()
        cls.upload = project.file_ids.filtered(lambda a: a.name == 'patients.csv')
        cls.failed_link = cls.env['crm.migration.record'].search([
            ('project_id', '=', project.id), ('operation', '=', 'failed'), ('source_id', '=', 'P004')])
        cls.issue = project.issue_ids.filtered(lambda i: 'renee@example.test' in i.message or 'P004' in i.message)[:1]

    def test_fixture_has_personal_data_in_every_side_door(self):
        self.assertIn(b'Garc', self.upload.raw)
        self.assertIn('García', ' '.join(self.sample.diff_ids.mapped('source_value')))
        self.assertIn("'31/02/1980'", self.failed_link.message)
        self.assertTrue(self.issue.message)

    def test_migrated_patients_are_not_sent_to_lead_enrichment(self):
        """Odoo's lead enrichment mails every new lead's address to an outside service: not patients'."""
        leads = self.env['crm.lead'].browse(self.env['crm.migration.record'].search([
            ('project_id', '=', self.project.id), ('res_model', '=', 'crm.lead'),
            ('operation', '=', 'created')]).mapped('res_id'))
        self.assertTrue(leads.filtered('email_from'))
        if 'iap_enrich_done' in leads._fields:
            self.assertTrue(all(leads.mapped('iap_enrich_done')))
            self.assertFalse(self.env['crm.lead'].search([('id', 'in', leads.ids), ('iap_enrich_done', '=', False)]))

    def test_migration_user_without_crm_rights_reads_no_patient_data(self):
        env = self.env(user=self.reader)
        project = self.project.with_env(env)
        # What the role is for: counts, states, which rows failed.
        self.assertEqual(project.name, 'Sample clinic')
        self.assertTrue(self.sample.with_env(env).created_count)
        self.assertEqual(self.failed_link.with_env(env).operation, 'failed')
        self.assertTrue(self.sample.with_env(env).diff_ids.mapped('field_name'))
        # The records themselves are CRM's: no access, and no way around it.
        with self.assertRaises(AccessError):
            self.target('patients', 'P001').with_env(env).read(['name'])
        with self.assertRaises(AccessError):
            project.file_ids  # noqa: B018  # pylint: disable=pointless-statement  # reading is the test
        attachments = env['ir.attachment'].search([('res_model', '=', 'crm.migration.project'),
                                                   ('res_id', '=', self.project.id)])
        with self.assertRaises(AccessError):
            attachments.read(['raw'])
        with self.assertRaises(AccessError):
            self.upload.with_env(env).datas  # noqa: B018
        diff = self.sample.diff_ids[:1].with_env(env)
        for name in ('source_value', 'mapped_value', 'odoo_value'):
            with self.assertRaises(AccessError):
                diff.read([name])
        with self.assertRaises(AccessError):
            self.sample.with_env(env).action_download_diff()
        link = self.failed_link.with_env(env)
        for name in ('message', 'before_values', 'previous_values'):
            with self.assertRaises(AccessError):
                link.read([name])
        with self.assertRaises(AccessError):
            self.issue.with_env(env).read(['message'])
        with self.assertRaises(AccessError):
            self.sample.with_env(env).read(['last_errors'])
        # The forms still open, without those fields.
        for model in ('crm.migration.project', 'crm.migration.run', 'crm.migration.record', 'crm.migration.diff',
                      'crm.migration.issue'):
            arch = env[model].get_views([(False, 'form'), (False, 'list')])['views']
            self.assertNotIn('name="source_value"', arch['form']['arch'] + arch['list']['arch'])
            self.assertNotIn('name="before_values"', arch['form']['arch'])
            self.assertNotIn('name="file_ids"', arch['form']['arch'])

    def test_crm_rights_or_the_manager_role_open_the_data(self):
        for user in (self.crm_reader, self.manager):
            env = self.env(user=user)
            self.assertIn(b'Garc', self.upload.with_env(env).raw)
            self.assertIn('García', ' '.join(self.sample.with_env(env).diff_ids.mapped('source_value')))
            self.assertIn("'31/02/1980'", self.failed_link.with_env(env).message)
            self.assertTrue(self.issue.with_env(env).message)
            self.failed_link.with_env(env).read(['before_values', 'previous_values'])
