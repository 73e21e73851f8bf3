# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import datetime
import io

import openpyxl

from odoo.tests import tagged

from .common import CrmMigrationCommon, fixture_bytes


@tagged('crm_migration', 'post_install', '-at_install')
class TestClinicMigration(CrmMigrationCommon):
    """The seed's clinic mapping, end to end on a messy export."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.counts_before = {model: cls.env[model].with_context(active_test=False).search_count([])
                             for model in ('crm.lead', 'res.partner', 'sale.order', 'mail.activity')}
        cls.project._check_ready()
        cls.migration = cls.project._create_run('full')
        cls.migration._execute()

    def test_upload_detects_objects_encodings_and_columns(self):
        lines = {line.table_name: line for line in self.wizard.line_ids}
        self.assertEqual({name: line.object_id.name for name, line in lines.items()}, {
            'appointments.csv': 'appointments',
            'attachments.csv': 'attachments',
            'billing.xlsx [Invoices]': 'invoices',
            'billing.xlsx [Invoice Lines]': 'invoice_lines',
            'patients.csv': 'patients',
            'practitioners.csv': 'practitioners',
        })
        self.assertEqual(lines['practitioners.csv'].encoding, 'utf-8-sig')
        self.assertEqual(lines['practitioners.csv'].delimiter, ';')
        self.assertEqual(lines['patients.csv'].encoding, 'cp1252')
        self.assertEqual(lines['patients.csv'].row_count, 6)
        self.assertEqual(self.wizard.document_count, 2, "the PDF and the PNG")
        self.assertEqual(self.project.detected_date_order, 'dmy', "23/04/1985 shows day-first dates")
        patients = self.objects['patients']
        self.assertEqual(patients.source_key, 'patient_id')
        self.assertFalse(patients.unmapped_columns, "every column is mapped or proposed")
        custom = {line.target_field: line for line in patients.field_ids if line.source_fields in (
            'referral_source', 'emergency_contact')}
        self.assertEqual(custom['x_referral_source'].new_field_type, 'selection')
        self.assertEqual(custom['x_referral_source'].new_field_selection.splitlines(), ['GP', 'Website', 'Friend'])
        self.assertEqual(custom['x_emergency_contact'].new_field_type, 'char')

    def test_run_counts_per_object(self):
        run = self.migration
        self.assertEqual(run.state, 'done')
        self.assertStat(run, 'practitioners', source=3, read=3, created=2, skipped=1, failed=0)
        self.assertStat(run, 'patients', source=6, read=6, created=5, failed=1)
        self.assertStat(run, 'appointments', source=7, read=7, created=4, failed=3)
        self.assertStat(run, 'invoices', source=3, read=3, created=2, failed=1)
        self.assertStat(run, 'invoice_lines', source=4, read=4, created=3, failed=1)
        self.assertStat(run, 'attachments', source=3, read=3, created=2, failed=1)
        self.assertEqual(self.project.state, 'done')
        after = {model: self.env[model].with_context(active_test=False).search_count([])
                 for model in self.counts_before}
        self.assertEqual(after['crm.lead'] - self.counts_before['crm.lead'], 5 + 4)
        # 2 practitioners + the 2 patient contacts the invoices need
        self.assertEqual(after['res.partner'] - self.counts_before['res.partner'], 4)
        self.assertEqual(after['sale.order'] - self.counts_before['sale.order'], 2)
        self.assertEqual(after['mail.activity'] - self.counts_before['mail.activity'], 4)

    def test_failed_rows_have_reasons(self):
        failed = self.project.record_ids.filtered(lambda r: r.operation == 'failed')
        messages = {(r.object_id.name, r.source_id): r.message for r in failed}
        self.assertEqual(set(messages), {
            ('patients', 'P004'), ('appointments', 'A4'), ('appointments', 'A5'), ('appointments', 'A6'),
            ('invoices', 'INV-1003'), ('invoice_lines', 'L4'), ('attachments', 'D3')})
        self.assertIn("'31/02/1980' is not a valid date", messages['patients', 'P004'])
        self.assertIn("patients P999 was not migrated", messages['appointments', 'A5'])
        self.assertIn("no mapping for 'Tentative'", messages['appointments', 'A6'])
        self.assertIn("practitioners PR3 was not migrated", messages['appointments', 'A4'])
        self.assertIn("patients P999 was not migrated", messages['invoices', 'INV-1003'])
        self.assertIn("missing_scan.pdf", messages['attachments', 'D3'])
        self.assertEqual(self.link('patients', 'P004').line_nr, 6, "line 6 of patients.csv (a quoted note spans 2)")
        orphans = self.project.issue_ids.filtered(lambda i: i.kind == 'orphan')
        self.assertIn('A5', orphans.mapped('source_id'))

    def test_duplicate_practitioner_email_is_flagged_not_merged(self):
        link = self.link('practitioners', 'PR3')
        self.assertEqual(link.operation, 'skipped')
        issue = self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate')
        self.assertEqual((issue.source_id, issue.related_source_id, issue.state), ('PR3', 'PR1', 'open'))
        partners = self.env['res.partner'].search([('email', '=ilike', 'anna@clinic.test')])
        self.assertEqual(len(partners), 1)

    def test_practitioner_values(self):
        anna = self.target('practitioners', 'PR1')
        self.assertEqual(anna._name, 'res.partner')
        self.assertEqual(anna.name, 'Anna Müller')
        self.assertEqual(anna.x_specialty, 'Physiotherapy')
        self.assertEqual(anna.x_license_number, 'PHY-0001')
        self.assertEqual(anna.x_practitioner_id, 'PR1')
        self.assertEqual(anna.email, 'anna@clinic.test')
        self.assertEqual(anna.phone, '+61 2 9000 0001')
        self.assertEqual(self.target('practitioners', 'PR2').name, "Ben O'Brien")

    def test_patient_values(self):
        jose = self.target('patients', 'P001')
        self.assertEqual(jose._name, 'crm.lead')
        self.assertEqual(jose.name, 'José García', "cp1252 decoded, first + last name")
        self.assertEqual(jose.x_source_patient_id, 'P001')
        self.assertEqual(jose.x_date_of_birth, datetime.date(1985, 4, 23))
        self.assertEqual(jose.email_from, 'jose@example.test')
        self.assertEqual(jose.phone, '02 9111 1111')
        self.assertEqual(jose.x_additional_phones, '0411 111 111')
        self.assertEqual((jose.street, jose.city, jose.zip), ('1 George St', 'Sydney', '2000'))
        self.assertEqual(jose.country_id, self.env.ref('base.au'))
        self.assertEqual(jose.state_id.code, 'NSW')
        self.assertEqual(jose.x_referral_source, 'gp')
        self.assertEqual(jose.x_emergency_contact, 'María García')
        self.assertIn('Allergic to latex.<br>Prefers mornings.', str(jose.description))
        francois = self.target('patients', 'P003')
        self.assertEqual(francois.phone, '02 9333 3333')
        self.assertEqual(francois.x_additional_phones, '02 9333 4444, 0433 333 333')
        self.assertEqual(self.target('patients', 'P005').name, 'Øyvind Cœur')

    def test_appointment_values(self):
        jose = self.target('patients', 'P001')
        anna = self.target('practitioners', 'PR1')
        first = self.target('appointments', 'A1')
        self.assertEqual(first.name, 'Initial Consultation - 03/02/2025 09:30')
        self.assertEqual(first.x_appointment_id, 'A1')
        self.assertEqual(first.x_patient_lead_id, jose)
        self.assertEqual(first.x_practitioner_id, anna)
        self.assertEqual(first.x_appointment_type, 'Initial Consultation')
        self.assertEqual(first.x_appointment_duration, 60)
        # 09:30 in Sydney (UTC+11 in February) is 22:30 UTC the day before.
        self.assertEqual(first.x_appointment_date, datetime.datetime(2025, 2, 2, 22, 30))
        self.assertEqual(first.stage_id, self.env.ref('crm.stage_lead4'), "completed -> Won")
        self.assertTrue(first.active)
        activity = self.target('appointments', 'A1', 'mail.activity')
        self.assertEqual(activity.res_id, first.id)
        self.assertEqual(activity.res_model, 'crm.lead')
        self.assertEqual(activity.activity_type_id, self.env.ref('mail.mail_activity_data_meeting'))
        self.assertEqual(activity.date_deadline, datetime.date(2025, 2, 3))
        self.assertEqual(activity.summary, 'Initial Consultation')

        cancelled = self.target('appointments', 'A3')
        self.assertFalse(cancelled.active, "cancelled -> lost")
        self.assertEqual(cancelled.lost_reason_id.name, 'Cancelled appointment')
        self.assertEqual(cancelled.stage_id, self.env.ref('crm.stage_lead1'))
        call = self.target('appointments', 'A3', 'mail.activity')
        self.assertEqual(call.activity_type_id, self.env.ref('mail.mail_activity_data_call'), "phone -> Call")

        late = self.target('appointments', 'A7')
        self.assertEqual(late.stage_id, self.env.ref('crm.stage_lead2'), "confirmed -> Qualified")
        self.assertEqual(late.x_appointment_date, datetime.datetime(2025, 2, 21, 12, 30))
        telehealth = self.target('appointments', 'A7', 'mail.activity')
        self.assertEqual(telehealth.activity_type_id, self.env.ref('mail.mail_activity_data_call'))
        self.assertEqual(telehealth.date_deadline, datetime.date(2025, 2, 21), "the clinic's local date")

    def test_invoice_values(self):
        jose = self.target('patients', 'P001')
        paid = self.target('invoices', 'INV-1001')
        self.assertEqual(paid.name, 'INV-1001')
        self.assertEqual(paid.partner_id, jose.partner_id, "partner resolved from the patient")
        self.assertEqual(paid.partner_id.name, 'José García')
        self.assertEqual(paid.partner_id.email, 'jose@example.test')
        self.assertEqual(paid.state, 'sale', "paid -> confirmed order")
        self.assertEqual(paid.x_insurance_carrier, 'Medibank')
        self.assertEqual(paid.x_claim_number, 'CLM-555')
        self.assertEqual(paid.x_procedure_codes, '97110, 97140')
        self.assertEqual(paid.x_source_total_amount, 150.0)
        self.assertEqual(paid.date_order, datetime.datetime(2025, 2, 2, 23, 30), "XLSX datetime in Sydney time")
        product_line = self.target('invoice_lines', 'L1')
        self.assertEqual(product_line.order_id, paid)
        self.assertEqual(product_line.product_id, self.consult)
        self.assertEqual((product_line.name, product_line.product_uom_qty, product_line.price_unit),
                         ('Initial consultation', 1.0, 100.0))
        note_line = self.target('invoice_lines', 'L2')
        self.assertEqual(note_line.display_type, 'line_note', "no product HEAT: a description line")
        self.assertEqual(note_line.name, 'Heat pack (2 × 25)')
        self.assertEqual(paid.amount_untaxed, 100.0)
        draft = self.target('invoices', 'INV-1002')
        self.assertEqual(draft.state, 'draft')
        self.assertEqual(draft.date_order.date(), datetime.date(2025, 2, 3), "04/02/2025 00:00 Sydney")
        self.assertEqual(draft.order_line.product_id, self.consult)

    def test_attachment_values(self):
        consent = self.target('attachments', 'D1')
        self.assertEqual((consent.res_model, consent.res_id), ('crm.lead', self.target('patients', 'P001').id))
        self.assertEqual(consent.name, 'consent_form.pdf')
        self.assertEqual(consent.mimetype, 'application/pdf')
        self.assertEqual(consent.description, 'Signed consent')
        self.assertTrue(consent.raw.startswith(b'%PDF'))
        registration = self.target('attachments', 'D2')
        self.assertEqual((registration.res_model, registration.res_id),
                         ('res.partner', self.target('practitioners', 'PR1').id))
        self.assertEqual(registration.mimetype, 'image/png')
        self.assertEqual(base64.b64decode(registration.datas)[:4], b'\x89PNG')


@tagged('crm_migration', 'post_install', '-at_install')
class TestClinicContradictions(CrmMigrationCommon):
    """A clinic export's rows that contradict themselves land as their object's rule decides."""

    def test_negative_length_and_credit_line_are_decided(self):
        appointments = (b'Appointment ID,Patient ID,Practitioner ID,Appointment Type,Starts At,Duration Minutes,'
                        b'Status,Notes\n'
                        b'A1,P001,PR1,Initial Consultation,03/02/2025 09:30,60,Completed,First visit\n'
                        b'A9,P001,PR1,Follow-up,10/02/2025 14:00,-30,Completed,Length typed as -30\n')
        workbook = openpyxl.Workbook()
        invoices = workbook.active
        invoices.title = 'Invoices'
        invoices.append(['Invoice Number', 'Patient ID', 'Invoice Date', 'Status', 'Total Amount'])
        invoices.append(['INV-1001', 'P001', '03/02/2025', 'Draft', 50])
        lines = workbook.create_sheet('Invoice Lines')
        lines.append(['Line ID', 'Invoice Number', 'Service Code', 'Service Description', 'Quantity', 'Unit Amount'])
        lines.append(['L1', 'INV-1001', 'CONSULT', 'Initial consultation', 1, 100])
        lines.append(['L9', 'INV-1001', 'CONSULT', 'Refund: session cancelled late', -1, 50])
        billing = io.BytesIO()
        workbook.save(billing)
        project = self.env['crm.migration.project'].create({'name': 'Contradicting clinic',
                                                            'source_tz': 'Australia/Sydney'})
        self._upload(project, {'patients.csv': fixture_bytes('patients.csv'),
                               'practitioners.csv': fixture_bytes('practitioners.csv'),
                               'appointments.csv': appointments, 'billing.xlsx': billing.getvalue()})
        project.action_confirm_mapping()
        project.action_audit()
        found = {(i.object_id.name, i.source_id): i for i in project.issue_ids if i.kind == 'contradiction'}
        self.assertEqual(set(found), {('appointments', 'ends_before_start'), ('invoice_lines', 'credit_line')})
        self.assertIn('Rows: A9.', found['appointments', 'ends_before_start'].message)
        self.assertIn('Rows: L9.', found['invoice_lines', 'credit_line'].message)
        run = self.run_full(project)
        self.assertStat(run, 'appointments', read=2, created=2, failed=0)
        self.assertStat(run, 'invoice_lines', read=2, created=2, failed=0)
        hours = self.env['calendar.event'].get_default_duration()
        link = project.record_ids.filtered(lambda r: r.object_id.name == 'appointments' and r.source_id == 'A9'
                                           and r.res_model == 'crm.lead')
        lead = self.env['crm.lead'].with_context(active_test=False).browse(link.res_id)
        self.assertEqual(lead.x_appointment_duration, hours * 60)
        self.assertIn('Ends before it starts', link.message)
        line_link = project.record_ids.filtered(lambda r: r.object_id.name == 'invoice_lines' and r.source_id == 'L9'
                                                and r.res_model == 'sale.order.line')
        line = self.env['sale.order.line'].browse(line_link.res_id)
        self.assertEqual((line.product_uom_qty, line.price_unit), (1.0, -50.0), "a credit line of the order")
        rerun = self.run_full(project)
        self.assertEqual(sum(rerun.stat_ids.mapped('created_count')) + sum(rerun.stat_ids.mapped('updated_count')),
                         0, "rerun of an unchanged export")
