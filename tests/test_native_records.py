# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Migrated records look like records a clinic made in Odoo: owned by a salesperson,
past appointments as done activities, and a read-back that only reports real differences."""
import datetime

from odoo.tests import TransactionCase, new_test_user, tagged

from .common import CrmMigrationCommon, MigrationCaseMixin, make_csv


@tagged('crm_migration', 'post_install', '-at_install')
class TestNativeRecords(CrmMigrationCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(cls.env, 'clinic_salesman', groups='sales_team.group_sale_salesman',
                                     email='salesman@clinic.test')
        cls.project.default_user_id = cls.salesman
        cls.project._check_ready()
        cls.migration = cls.project._create_run('full')
        cls.migration._execute()

    def test_leads_belong_to_the_default_salesperson(self):
        leads = self.target('patients', 'P001') | self.target('appointments', 'A7')
        self.assertEqual(leads.user_id, self.salesman)
        self.assertNotEqual(leads.user_id, self.env.ref('base.user_root'), "never OdooBot")
        # The "My Pipeline" filter of the salesperson's Pipeline menu.
        pipeline = self.env['crm.lead'].with_user(self.salesman).search(
            [('type', '=', 'opportunity'), ('user_id', '=', self.salesman.id)])
        self.assertLessEqual(leads, pipeline)

    def test_default_salesperson_is_whoever_sets_the_project_up(self):
        manager = new_test_user(self.env, 'clinic_consultant', email='consultant@clinic.test', groups=','.join((
            'crm_migration.group_crm_migration_manager', 'sales_team.group_sale_salesman')))
        project = self.env['crm.migration.project'].with_user(manager).create({'name': 'Set up by a person'})
        self.assertEqual(project.default_user_id, manager)
        scripted = self.env['crm.migration.project'].create({'name': 'Set up by a script'})
        self.assertEqual(self.env.user, self.env.ref('base.user_root'))
        self.assertEqual(scripted.default_user_id, self.env.ref('base.user_admin'),
                         "a script runs as OdooBot: the administrator owns the records, not OdooBot")

    def test_past_appointment_is_a_done_activity_not_an_overdue_one(self):
        first = self.target('appointments', 'A1')
        self.assertFalse(first.with_context(active_test=True).activity_ids,
                         "no open (overdue) activity for a visit in 2025")
        activity = self.target('appointments', 'A1', 'mail.activity')
        self.assertFalse(activity.active, "marked done, as Odoo's 'Mark done' leaves it")
        self.assertEqual(activity.date_done, datetime.date(2025, 2, 2))
        done = first.message_ids.filtered(lambda m: m.mail_activity_type_id)
        self.assertEqual(len(done), 1)
        self.assertEqual(done.mail_activity_type_id, self.env.ref('mail.mail_activity_data_meeting'))
        self.assertEqual(done.subtype_id, self.env.ref('mail.mt_activities'))
        # 09:30 in Sydney on 3 February 2025, stored in UTC.
        self.assertEqual(done.date, datetime.datetime(2025, 2, 2, 22, 30))
        self.assertIn('Initial Consultation', str(done.body))
        self.assertEqual(done.author_id, self.salesman.partner_id)

    def test_correct_full_run_reports_no_mismatch(self):
        run = self.migration
        self.assertTrue(run.created_count)
        lines = ['%s %s %s: %r vs %r (%s)' % (d.object_id.name, d.source_id, d.field_name, d.mapped_value,
                                              d.odoo_value, d.reason) for d in run.diff_ids]
        self.assertEqual(run.mismatch_count, 0, '\n'.join(lines))
        self.assertFalse(run.diff_ids, "a full run stores its mismatches only")

    def test_audit_asks_for_unmatched_services_and_unmapped_values(self):
        self.project.action_confirm_mapping()
        self.project.action_audit()
        issues = {(i.kind, i.source_id): i for i in self.project.issue_ids}
        heat = [i for (kind, _source), i in issues.items() if kind == 'unmatched_product']
        self.assertEqual(len(heat), 1, "one issue per distinct service: CONSULT is a product, HEAT is not")
        self.assertIn("'HEAT'", heat[0].message)
        self.assertIn('1 invoice line(s)', heat[0].message)
        self.assertTrue(heat[0].blocking)
        tentative = [i for (kind, _source), i in issues.items() if kind == 'unmapped_value']
        self.assertEqual([i.source_id for i in tentative], ['status: Tentative'])
        self.assertIn('1 rows', tentative[0].message)
        # With a fallback product, unmatched services have somewhere to go.
        self.project.fallback_product_id = self.consult
        self.project.action_audit()
        self.assertFalse(self.project.issue_ids.filtered(lambda i: i.kind == 'unmatched_product'))


def _future(days, clock='10:00'):
    return (datetime.date.today() + datetime.timedelta(days=days)).strftime('%d/%m/%Y ') + clock


@tagged('crm_migration', 'post_install', '-at_install')
class TestAppointmentActivities(MigrationCaseMixin, TransactionCase):
    """Future appointments are the practitioner's open activities; past ones are history."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.anna = new_test_user(cls.env, 'anna_physio', email='anna@clinic.test',
                                 groups='sales_team.group_sale_salesman')
        cls.desk = new_test_user(cls.env, 'front_desk', groups='sales_team.group_sale_salesman')
        cls.project = cls.env['crm.migration.project'].create({
            'name': 'Clinic with a diary', 'source_tz': 'Australia/Sydney', 'date_order': 'dmy',
            'default_user_id': cls.desk.id})
        cls.project._upload_export({
            'practitioners.csv': make_csv([
                ['Practitioner ID', 'First Name', 'Last Name', 'Email', 'Latitude'],
                ['PR1', 'Anna', 'Müller', 'anna@clinic.test', ''],
                ['PR2', 'Ben', "O'Brien", 'ben@clinic.test', '-33.86881234'],
            ]),
            'patients.csv': make_csv([
                ['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email', 'Expected Revenue'],
                ['P001', 'José', 'García', '23/04/1985', 'jose@example.test', '1234.5678'],
            ]),
            'appointments.csv': make_csv([
                ['Appointment ID', 'Patient ID', 'Practitioner ID', 'Appointment Type', 'Starts At', 'Status'],
                ['A1', 'P001', 'PR1', 'Initial Consultation', '03/02/2025 09:30', 'Completed'],
                ['A2', 'P001', 'PR1', 'Follow-up', _future(30), 'Scheduled'],
                ['A3', 'P001', 'PR2', 'Telehealth Call', _future(40, '16:15'), 'Confirmed'],
            ]),
        })

    def run_full(self):
        self.project._check_ready()
        run = self.project._create_run('full')
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        return run

    def test_future_appointments_are_open_activities_of_the_practitioner(self):
        # Anna's Odoo user already has her e-mail: the consultant links the practitioner to it.
        self.project.action_confirm_mapping()
        self.project.action_audit()
        self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate' and i.source_id == 'PR1').action_merge()
        self.run_full()
        self.assertEqual(self.target('practitioners', 'PR1'), self.anna.partner_id)
        follow_up = self.target('appointments', 'A2', 'mail.activity')
        self.assertTrue(follow_up.active)
        self.assertEqual(follow_up.user_id, self.anna, "the practitioner's own Odoo user")
        self.assertEqual(follow_up.date_deadline, datetime.date.today() + datetime.timedelta(days=30))
        self.assertEqual(self.target('appointments', 'A2').activity_ids, follow_up)
        call = self.target('appointments', 'A3', 'mail.activity')
        self.assertTrue(call.active)
        self.assertEqual(call.user_id, self.desk, "Ben has no Odoo user: the default salesperson")
        past = self.target('appointments', 'A1', 'mail.activity')
        self.assertFalse(past.active)
        self.assertFalse(self.target('appointments', 'A1').with_context(active_test=True).activity_ids)
        self.assertEqual(self.target('appointments', 'A1').user_id, self.desk)
        self.assertEqual(self.env['mail.activity'].search_count([
            ('res_model', '=', 'crm.lead'), ('res_id', '=', self.target('appointments', 'A1').id)]), 0,
            "nothing open, nothing overdue")

    def test_value_missing_from_a_value_map_is_an_audit_issue(self):
        self.project.action_confirm_mapping()
        self.project.action_audit()
        issue = self.project.issue_ids.filtered(lambda i: i.kind == 'unmapped_value')
        self.assertEqual(len(issue), 1, issue.mapped('message'))
        self.assertIn("'Telehealth Call'", issue.message)
        self.assertIn('(1 rows)', issue.message)
        self.assertIn('mail.mail_activity_data_meeting', issue.message, "says what accepting it does")
        self.assertTrue(issue.blocking)
        self.project.require_approval = False
        with self.assertRaisesRegex(Exception, 'blocking issues'):
            self.project.action_start_run()
        issue.action_accept()
        self.project.action_audit()
        self.assertEqual(issue.state, 'accepted', "a decision survives a new audit")

    def test_full_run_lists_the_values_that_really_differ(self):
        """A value Odoo stores otherwise (a latitude cut to 7 decimals) is listed; the rest is not."""
        patients = self.project.object_ids.filtered(lambda o: o.name == 'patients')
        practitioners = self.project.object_ids.filtered(lambda o: o.name == 'practitioners')
        for obj, column, target in ((patients, 'expected_revenue', 'expected_revenue'),
                                    (practitioners, 'latitude', 'partner_latitude')):
            obj.field_ids.filtered(lambda line, c=column: c in line._source_list()).enabled = False
            self.env['crm.migration.field'].create({'object_id': obj.id, 'source_fields': column,
                                                    'target_field': target})
        run = self.run_full()
        self.assertEqual(self.target('patients', 'P001').expected_revenue, 1234.5678,
                         "shown with 2 decimals, stored with all 4: not a difference")
        self.assertEqual(run.mismatch_count, 1, run.diff_ids.mapped('reason'))
        line = run.diff_ids
        self.assertEqual((line.source_id, line.field_name, line.equal), ('PR2', 'partner_latitude', False))
        self.assertEqual((line.mapped_value, line.odoo_value), ('-33.86881234', '-33.8688123'))
        self.assertEqual(line.reason, 'rounded to 7 decimals')
        self.assertEqual(run.diff_mismatch_count, 1, "the run form's Differences button opens it")
        self.assertEqual(run.action_open_diff()['domain'], [('run_id', '=', run.id)])

    def test_datetimes_are_shown_in_the_source_timezone(self):
        from ..services import diff  # noqa: PLC0415
        self.env.user.tz = 'Europe/Paris'  # the viewer's timezone plays no part
        self.assertEqual(diff._local(datetime.datetime(2025, 2, 2, 22, 30), 'Australia/Sydney'),
                         '2025-02-03 09:30:00 (Australia/Sydney)')
