# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a newcomer sees: the next step, the user's words, live progress, reading is not editing."""
import base64
import datetime
from unittest.mock import patch

from lxml import etree

from odoo.tests import new_test_user, tagged
from odoo.tools import file_open

from .common import CrmMigrationCommon


@tagged('post_install', '-at_install')
class TestUsability(CrmMigrationCommon):

    def test_one_next_step_at_a_time(self):
        """The status bar's step and its sentence follow the project from upload to the full run."""
        fresh = self.env['crm.migration.project'].create({'name': 'Nothing uploaded'})
        self.assertEqual(fresh.step, 'source')
        self.assertIn('Upload', fresh.next_step_hint)
        self.assertEqual(self.project.step, 'mapping', "the export is uploaded: the mapping is next")
        self.project.action_confirm_mapping()
        self.assertEqual((self.project.step, self.project.state), ('audit', 'mapped'))
        self.project.action_audit()
        self.assertEqual(self.project.step, 'audit', "blocking findings wait for a decision first")
        self.assertIn('blocking issues', self.project.next_step_hint)
        self.project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        self.project.invalidate_recordset()
        self.assertEqual(self.project.step, 'sample')
        self.assertIn(str(self.project.sample_size), self.project.next_step_hint)

    def test_empty_project_list_loads_the_demo(self):
        """The empty list's link: the demo clinic's export uploaded, the project at its mapping step."""
        action = self.env.ref('crm_migration.crm_migration_project_action')
        self.assertIn('/odoo/action-crm_migration.crm_migration_project_action_load_demo', action.help)
        result = self.env.ref('crm_migration.crm_migration_project_action_load_demo').run()
        demo = self.env['crm.migration.project'].browse(result['res_id'])
        self.assertEqual((result['res_model'], result['view_mode']), ('crm.migration.project', 'form'))
        self.assertEqual(demo.step, 'mapping')
        self.assertTrue(demo.object_ids.filtered('attachment_id'))

    def test_other_actions_are_in_the_action_menu(self):
        """The header keeps one next step: the rest is bound to the form's gear menu, and works from there."""
        bound = self.env['ir.actions.server'].search([
            ('binding_model_id.model', '=', 'crm.migration.project'), ('binding_view_types', '=', 'form')])
        methods = {action.code.split('.')[-1].rstrip('()') for action in bound}
        self.assertLessEqual({'action_test_connection', 'action_audit', 'action_discard_sample', 'action_run_delta',
                              'action_export_mapping', 'action_export_inventory', 'action_download_manifest',
                              'action_prepare_fields', 'action_open_import_mapping'}, methods)
        export = bound.filtered(lambda a: 'action_export_mapping' in a.code)
        result = export.with_context(active_model='crm.migration.project', active_id=self.project.id,
                                     active_ids=self.project.ids).run()
        self.assertEqual(result['type'], 'ir.actions.act_url')
        self.assertIn('mapping_clinic.json', self.env['ir.attachment'].browse(
            int(result['url'].split('/')[3].split('?')[0])).name)

    def test_words_of_the_user(self):
        """Models by their names, issues by what they are, no "crm.migration.issue,7"."""
        self.approve()
        run = self.run_full()
        link = self.link('patients', 'P001')
        lead_model = self.env['ir.model']._get('crm.lead').name
        self.assertEqual(link.res_model_name, lead_model)
        self.assertNotEqual(link.res_model_name, 'crm.lead')
        issue = self.project.issue_ids[:1]
        self.assertTrue(issue)
        self.assertNotIn('crm.migration.issue', issue.display_name)
        self.assertIn(issue.object_id.label, issue.display_name)
        self.assertEqual(self.objects['patients'].display_name, 'Patients', "objects by their label")
        stats = self.env['crm.migration.run'].get_view(
            self.env.ref('crm_migration.crm_migration_run_view_form').id, 'form')['arch']
        stat_list = etree.fromstring(stats).xpath("//field[@name='stat_ids']")[0]
        self.assertEqual(stat_list.get('readonly'), '1')
        self.assertEqual((stat_list[0].get('create'), stat_list[0].get('delete')), ('0', '0'))
        self.assertTrue(run.stat_ids)

    def test_progress_never_goes_back(self):
        """Objects not started yet count with their announced rows: the bar only moves forward."""
        from ..models.crm_migration_run import RowReader  # noqa: PLC0415

        self.approve()
        self.project.batch_size = 2
        run = self.project._create_run('full')
        run._start()
        reader = RowReader(self.project._get_source())
        seen = [run.progress]
        for _batch in range(200):
            if run.state == 'done':
                break
            run._process_batch(reader)
            run.invalidate_recordset()
            seen.append(run.progress)
        self.assertEqual(run.state, 'done')
        self.assertEqual(seen, sorted(seen), "the percentage went back: %s" % seen)
        self.assertEqual(seen[-1], 100.0)
        self.assertGreater(len(set(seen)), 3, "the bar moved in steps, batch by batch")

    def test_live_progress_and_end_notification(self):
        """Each batch tells the forms to reload through the bus; the end is told to who started the run."""
        manager = new_test_user(self.env, 'run_starter', groups='crm_migration.group_crm_migration_manager,'
                                'sales_team.group_sale_manager')
        self.approve()
        run = self.env['crm.migration.run'].with_user(manager).create({'project_id': self.project.id,
                                                                        'kind': 'full'})
        run = run.with_user(self.env.user)
        sent = []
        Partner = type(self.env['res.partner'])
        original = Partner._bus_send

        def record(partners, notification_type, message, **kwargs):
            sent.append((partners, notification_type, message))
            return original(partners, notification_type, message, **kwargs)

        with patch.object(Partner, '_bus_send', record):
            run._execute()
        self.assertEqual(run.state, 'done')
        progress = [(p, m) for p, kind, m in sent if kind == 'crm_migration/progress']
        self.assertGreater(len(progress), len(run.stat_ids), "at least one notification per object")
        self.assertIn(manager.partner_id, progress[0][0], "migration users are told")
        self.assertEqual(progress[-1][1]['state'], 'done')
        self.assertEqual(progress[-1][1]['run_id'], run.id)
        ends = [(p, m) for p, kind, m in sent if kind == 'simple_notification']
        self.assertEqual(len(ends), 1)
        self.assertEqual(ends[0][0], manager.partner_id, "the end is told to who started the run")
        self.assertIn('is done', ends[0][1]['message'])

    def test_one_migrated_data_page_for_two_projects(self):
        """A lead migrated by two projects has one "Migrated data" page, one group per project."""
        other = self.env['crm.migration.project'].create({'name': 'Second clinic', 'source_tz': 'Australia/Sydney'})
        self._upload(other, {'patients.csv': b'Patient ID,First Name,Last Name,Email,Allergy\r\nQ1,Ann,Lee,'
                                             b'ann@example.test,None\r\n'})
        self.project.action_prepare_fields()
        other.action_prepare_fields()
        arch = etree.fromstring(self.env['crm.lead'].get_view(
            self.env.ref('crm.crm_lead_view_form').id, 'form')['arch'])
        pages = arch.xpath("//page[@string='Migrated data']")
        self.assertEqual(len(pages), 1)
        groups = pages[0].xpath("./group")
        self.assertEqual([g.get('string') for g in groups], ['Sample clinic', 'Second clinic'])
        self.assertTrue(groups[0].xpath(".//field[@name='x_date_of_birth']"))

    def test_viewing_a_migrated_lead_with_a_pdf_is_not_an_edit(self):
        """The chatter's PDF preview (main attachment) and an attachment's access token write the
        records, but a rollback still removes them; a real edit is still kept."""
        self.approve()
        self.run_full()
        lead = self.target('patients', 'P001')
        document = self.target('attachments', 'D1')
        self.assertEqual((document.res_model, document.res_id, document.mimetype),
                         ('crm.lead', lead.id, 'application/pdf'))
        edited = self.target('patients', 'P002')
        for source_id in ('P001', 'P002'):
            self.link('patients', source_id).synced_at -= datetime.timedelta(minutes=5)
        self.link('attachments', 'D1').synced_at -= datetime.timedelta(minutes=5)
        self.env.flush_all()
        viewer = new_test_user(self.env, 'pdf_viewer', groups='sales_team.group_sale_salesman_all_leads')
        stamps = (lead.write_date, lead.write_uid, document.write_date, document.write_uid)
        # What the chatter does for the viewer: /mail/attachment/update_thumbnail saves the PDF's
        # first page (as sudo, the viewer's uid), the preview registers the main attachment.
        with file_open('crm_migration/static/description/icon.png', 'rb') as handle:
            png = base64.b64encode(handle.read())
        document.with_user(viewer).sudo().thumbnail = png
        document.with_user(viewer).register_as_main_attachment()
        document.with_user(viewer).generate_access_token()
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertTrue(document.thumbnail, "the thumbnail was saved")
        self.assertTrue(document.access_token)
        self.assertEqual((lead.write_date, lead.write_uid, document.write_date, document.write_uid), stamps)
        edited.with_user(viewer).write({'phone': '0400 000 000'})
        rollback = self.run_rollback()
        self.assertStat(rollback, 'patients', kept=1)
        self.assertStat(rollback, 'attachments', kept=0)
        self.assertFalse(lead.exists(), "the lead only looked at was rolled back")
        self.assertFalse(document.exists())
        self.assertTrue(edited.exists(), "the lead a user edited is kept")
