# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import io
import json

import openpyxl

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import FIXTURE_FILES, CrmMigrationCommon, fixture_bytes, make_csv

UNFAMILIAR = [
    ['Patient Number', 'Given Name', 'Family Name', 'E-mail Address', 'Cell', 'DOB', 'Status', 'Owner',
     'Notes', 'Favourite Colour'],
    ['C1', 'Ana', 'Lima', 'ana@example.test', '0411 000 001', '03/04/1980', 'New', 'nobody@clinic.test',
     'Short note', 'Blue'],
    ['C2', 'Bo', 'Chen', 'bo@example.test', '0411 000 002', '25/12/1975', 'Qualified', 'nobody@clinic.test',
     'A note that is far too long for the limit the consultant set on this target', 'Red'],
    ['C3', 'Cy', 'Diaz', 'ana@example.test', '0411 000 003', '01/01/1990', 'New', 'admin', '', 'Blue'],
    ['C4', 'Di', 'Eko', 'di@example.test', '0411 000 004', '02/02/1992', 'Won', '', '', 'Red'],
]
APPOINTMENTS = [
    ['Appointment ID', 'Patient ID', 'Appointment Type', 'Starts At', 'Status'],
    ['B1', 'C1', 'Consultation', '03/02/2025 09:30', 'Completed'],
    ['B2', 'C9', 'Consultation', '04/02/2025 10:00', 'Scheduled'],
]


@tagged('crm_migration', 'post_install', '-at_install')
class TestWorkbench(CrmMigrationCommon):

    def unfamiliar_project(self):
        project = self.env['crm.migration.project'].create({'name': 'Unfamiliar', 'date_order': 'dmy',
                                                            'source_tz': 'Australia/Sydney'})
        self._upload(project, {'patients.csv': make_csv(UNFAMILIAR), 'appointments.csv': make_csv(APPOINTMENTS)})
        patients = project.object_ids.filtered(lambda o: o.name == 'patients')
        return project, patients

    def line(self, obj, column):
        lines = obj.field_ids.filtered(lambda line: line.enabled and column in line._source_list())
        return {line.target_field: line for line in lines}

    def test_proposal_maps_unfamiliar_headers_with_reasons(self):
        project, patients = self.unfamiliar_project()
        self.assertEqual(project.state, 'draft', "nothing loads before a person confirms")
        self.assertEqual(patients.source_key, 'patient_number', "an id-like, unique column")
        name = self.line(patients, 'given_name')['name']
        self.assertEqual(name._source_list(), ['given_name', 'family_name'])
        email = self.line(patients, 'e_mail_address')['email_from']
        self.assertEqual(email.confidence, 0.9)
        self.assertIn('"E-mail Address" is a synonym of email', email.reason)
        self.assertIn('phone', self.line(patients, 'cell'))
        self.assertIn('x_date_of_birth', self.line(patients, 'dob'))
        status = self.line(patients, 'status')['stage_id']
        self.assertEqual(status.transform, 'value_map')
        self.assertIn('synonym of status', status.reason)
        self.assertEqual({v.source_value: v.target_value for v in status.value_map_ids},
                         {'New': 'New', 'Qualified': 'Qualified', 'Won': 'Won'})
        owner = self.line(patients, 'owner')['user_id']
        self.assertEqual(owner.transform, 'user')
        colour = self.line(patients, 'favourite_colour')['x_favourite_colour']
        self.assertEqual((colour.new_field_type, colour.confidence), ('selection', 0.4))
        self.assertIn('a new selection field', colour.reason)
        self.assertFalse(patients.unmapped_columns, "no column is silently dropped")

    def test_audit_findings_block_the_run_until_decided(self):
        project, patients = self.unfamiliar_project()
        self.line(patients, 'notes')['description'].max_length = 40
        project.require_approval = False
        with self.assertRaisesRegex(UserError, 'confirm'):
            project.action_start_run()
        project.action_confirm_mapping()
        project.action_audit()
        issues = {(i.kind, i.source_id): i for i in project.issue_ids}
        self.assertEqual(set(issues), {
            ('duplicate', 'C3'),             # same e-mail as C1
            ('orphan', 'B2'),                # patient C9 is not in the file
            ('unmatched_user', 'nobody@clinic.test'),
            ('too_long', 'C2'),
        })
        self.assertEqual(issues['duplicate', 'C3'].related_source_id, 'C1')
        self.assertIn('2 rows', issues['unmatched_user', 'nobody@clinic.test'].message)
        self.assertIn('truncated from 75 to 40 characters', issues['too_long', 'C2'].message)
        self.assertTrue(all(i.blocking and i.state == 'open' for i in issues.values()))
        with self.assertRaisesRegex(UserError, '4 blocking issues'):
            project.action_start_run()
        # The reconciliation queue: the admin picks who takes the unknown owner's patients.
        fallback = new_test_user(self.env, 'clinic_manager', groups='sales_team.group_sale_salesman')
        owner_issue = issues['unmatched_user', 'nobody@clinic.test']
        owner_issue.user_id = fallback
        owner_issue.action_use_user()
        issues['duplicate', 'C3'].action_create_separate()
        issues['orphan', 'B2'].action_accept()
        issues['too_long', 'C2'].action_accept()
        # A second audit keeps what was decided.
        project.action_audit()
        self.assertFalse(project.issue_ids.filtered(lambda i: i.state == 'open'))
        action = project.action_start_run()
        run = self.env['crm.migration.run'].browse(action['res_id'])
        run._execute()
        self.assertStat(run, 'patients', created=4, failed=0)
        leads = {rec.source_id: self.env['crm.lead'].browse(rec.res_id) for rec in project.record_ids
                 if rec.object_id == patients}
        self.assertEqual(leads['C1'].user_id, fallback, "owner picked in the queue")
        self.assertEqual(leads['C3'].user_id, self.env.ref('base.user_admin'), "owner matched by login")
        self.assertEqual(leads['C3'].email_from, 'ana@example.test', "created separately, as decided")
        self.assertEqual(leads['C4'].stage_id, self.env.ref('crm.stage_lead4'))
        self.assertEqual(len(str(leads['C2'].description or '').replace('<p>', '').replace('</p>', '')), 40)

    def test_sample_diff_flags_truncation_and_timezone_then_approve(self):
        self.env.user.tz = 'Europe/Brussels'
        patients = self.objects['patients']
        contact = patients.field_ids.filtered(lambda line: line.target_field == 'x_emergency_contact')
        contact.max_length = 5
        self.project.sample_size = 12
        sample = self.approve()
        self.assertEqual(self.project.state, 'approved')
        diffs = sample.diff_ids
        self.assertTrue(diffs)
        different = diffs.filtered(lambda d: not d.equal)
        truncated = different.filtered(lambda d: d.field_name == 'x_emergency_contact')
        self.assertEqual(truncated.mapped('reason'), ['truncated from 12 to 5 characters'])
        self.assertEqual((truncated.source_value, truncated.odoo_value), ('María García', 'María'))
        # Compared as stored (UTC), shown as the clinic's wall clock: the viewer in Brussels changes nothing.
        start = diffs.filtered(lambda d: d.field_name == 'x_appointment_date' and d.source_id == 'A1')
        self.assertTrue(start.equal)
        self.assertEqual(start.odoo_value, '2025-02-03 09:30:00 (Australia/Sydney)')
        self.assertEqual(set(different.mapped('field_name')), {'x_emergency_contact'},
                         [(d.source_id, d.field_name, d.mapped_value, d.odoo_value, d.reason) for d in different])
        self.assertTrue(diffs.filtered(lambda d: d.field_name == 'x_date_of_birth' and d.equal))
        self.assertEqual(sample.diff_mismatch_count, len(different))
        self.assertEqual(self.stat(sample, 'patients').mismatch_count, 1)
        # The diff as a workbook a consultant can hand over.
        sheet = openpyxl.load_workbook(
            io.BytesIO(self.downloaded(sample.action_download_diff())), read_only=True
        ).active
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(rows[0][:3], ('Object', 'Source id', 'Odoo model'))
        self.assertEqual(len(rows), len(diffs) + 1)
        # Approved: the full run reuses the sample's records.
        sampled = sum(sample.stat_ids.mapped('created_count'))
        action = self.project.action_start_run()
        full = self.env['crm.migration.run'].browse(action['res_id'])
        full._execute()
        self.assertEqual(sum(full.stat_ids.mapped('unchanged_count')), sampled)
        # Accepting the duplicate PR3 means "create it anyway": PR3 and its appointment A4 land too.
        self.assertEqual(sum(full.stat_ids.mapped('created_count')) + sampled, 3 + 5 + 5 + 2 + 3 + 2)

    def test_discard_sample_rolls_it_back(self):
        before = self.target_counts()
        self.project.action_confirm_mapping()
        self.project.action_audit()
        self.project.action_sample()
        sample = self.project.run_ids.filtered(lambda r: r.kind == 'sample')
        sample._execute()
        self.assertEqual(self.project.state, 'sampled')
        self.assertNotEqual(self.target_counts(), before)
        action = self.project.action_discard_sample()
        self.env['crm.migration.run'].browse(action['res_id'])._execute()
        self.assertEqual(self.target_counts(), before)
        self.assertEqual(self.project.state, 'audited')

    def test_editing_the_mapping_revokes_confirmation(self):
        self.project.action_confirm_mapping()
        self.assertEqual(self.project.state, 'mapped')
        self.objects['patients'].field_ids[0].default_value = 'x'
        self.assertEqual(self.project.state, 'draft')

    def test_mapping_export_import_gives_identical_results(self):
        stage = self.objects['appointments'].field_ids.filtered(lambda line: line.target_field == 'stage_id')
        stage.value_map_ids.filtered(lambda v: v.source_value == 'confirmed').target_value = 'crm.stage_lead3'
        self.objects['patients'].field_ids.filtered(
            lambda line: line.target_field == 'x_emergency_contact'
        ).enabled = False
        exported = self.downloaded(self.project.action_export_mapping())
        first = self.run_full()
        values_a = self.snapshot(self.project)
        self.run_rollback(of_run=first)

        other = self.env['crm.migration.project'].create({'name': 'Same group, other clinic'})
        self._upload(other, {name: fixture_bytes(name) for name in FIXTURE_FILES})
        self.env['crm.migration.mapping.import'].create({
            'project_id': other.id, 'mapping_file': base64.b64encode(exported)}).action_import()
        self.assertEqual(other.source_tz, 'Australia/Sydney', "project options travel with the mapping")
        self.run_full(other)
        values_b = self.snapshot(other)
        self.assertEqual(values_a, values_b)
        self.assertEqual(values_a['appointments', 'A7']['stage_id'], self.env.ref('crm.stage_lead3').display_name)
        self.assertNotIn('x_emergency_contact', values_a['patients', 'P001'])

    def test_inventory_lists_what_does_not_migrate(self):
        self.objects['attachments'].enabled = False
        data = json.loads(self.downloaded(self.project.action_export_inventory()))
        kinds = {item['kind'] for item in data['not_migrated']}
        self.assertTrue({'automation', 'template', 'sequence', 'portal', 'report'} <= kinds)
        self.assertEqual(data['objects_not_migrated'], [{
            'object': 'attachments', 'label': 'Attachments', 'target_model': 'ir.attachment',
            'reason': 'disabled in the project'}])
        self.assertIn('x_date_of_birth', {f['field'] for f in data['custom_fields']})

    # ------------------------------------------------------------------
    def snapshot(self, project):
        """Mapped field values of every migrated record, by (object, source id)."""
        result = {}
        for link in project.record_ids.filtered(lambda r: r.operation == 'created'):
            record = self.env[link.res_model].with_context(active_test=False).browse(link.res_id)
            lines = link.object_id.field_ids.filtered(lambda rec: rec.enabled and rec._source_list())
            names = [line.target_field for line in lines if line.target_field in record._fields
                     and record._fields[line.target_field].type not in ('binary', 'many2one_reference')]
            values = {}
            for name in names:
                value = record[name]
                # Records recreated after a rollback get new ids: compare what they are.
                values[name] = value.display_name if record._fields[name].type == 'many2one' else (
                    sorted(value.mapped('display_name')) if hasattr(value, 'ids') else value)
            # Links to other migrated records differ by id between the runs: compare their source ids.
            for name in ('x_patient_lead_id', 'x_practitioner_id', 'partner_id', 'order_id'):
                field = record._fields.get(name)
                if field and field.type == 'many2one' and record[name]:
                    target = record[name]
                    other = self.env['crm.migration.record'].search([
                        ('project_id', '=', project.id), ('res_model', '=', target._name), ('res_id', '=', target.id)],
                        limit=1)
                    values[name] = other.source_id or target.display_name
            if link.res_model == 'ir.attachment':
                owner = self.env['crm.migration.record'].search([
                    ('project_id', '=', project.id), ('res_model', '=', record.res_model),
                    ('res_id', '=', record.res_id)], limit=1)
                values['owner'] = owner.source_id
            result[link.object_id.name, link.source_id, link.res_model] = values
        return {(o, s): v for (o, s, m), v in result.items() if m == project.object_ids.filtered(
            lambda obj, n=o: obj.name == n).target_model}
