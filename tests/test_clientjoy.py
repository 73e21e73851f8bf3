# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import json
import os

from odoo.tests import tagged
from odoo.tools import file_open

from .common import CrmMigrationCommon

FOLDER = 'crm_migration/tests/fixtures/clientjoy'
FILES = ('team_members.csv', 'pipeline_stages.csv', 'customers.csv', 'leads.csv', 'appointments.csv',
         'activities.csv', 'invoices.csv', 'invoice_items.csv')


@tagged('crm_migration', 'post_install', '-at_install')
class TestClientjoyExport(CrmMigrationCommon):
    """Clientjoy has no public API: its seed mapping runs on the CSV exports."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.ref('base.user_admin').email = 'admin@yourcompany.example.com'
        cls.priya = cls.env['res.users'].create({
            'name': 'Priya Shah', 'login': 'priya', 'email': 'priya@agency.example',
            'group_ids': [(6, 0, [cls.env.ref('sales_team.group_sale_salesman').id])]})
        cls.cj = cls.env['crm.migration.project'].create({
            'name': 'Agency (Clientjoy)', 'source_type': 'clientjoy', 'source_tz': 'America/New_York'})
        files = {}
        for name in FILES:
            with file_open(os.path.join(FOLDER, name), 'rb') as handle:
                files[name] = handle.read()
        cls.cj_wizard = cls._upload(cls.cj, files)

    def counts(self, models):
        return {model: self.env[model].with_context(active_test=False).search_count([]) for model in models}

    def cj_target(self, object_name, source_id, model=None, project=None):
        link = (project or self.cj).record_ids.filtered(
            lambda r: (
                r.object_id.name == object_name
                and r.source_id == source_id
                and r.res_model == (model or r.object_id.target_model)
            )
        )
        self.assertIn(link.operation, ('created', 'updated', 'linked'), link.message)
        return self.env[link.res_model].with_context(active_test=False).browse(link.res_id)

    def test_export_lands_with_the_seed_mapping(self):
        detected = {line.table_name: line.object_id.name for line in self.cj_wizard.line_ids}
        self.assertEqual(detected, {
            'team_members.csv': 'owners', 'pipeline_stages.csv': 'pipelines', 'customers.csv': 'customers',
            'leads.csv': 'leads', 'appointments.csv': 'appointments', 'activities.csv': 'activities',
            'invoices.csv': 'invoices', 'invoice_items.csv': 'invoice_items'})
        models = ('crm.lead', 'res.partner', 'res.partner.category', 'crm.stage', 'crm.team', 'crm.tag',
                  'crm.lost.reason', 'calendar.event', 'mail.message', 'mail.activity', 'account.move',
                  'account.move.line')
        before = self.counts(models)
        run = self.run_full(self.cj)
        # Owners are matched to Odoo users by e-mail, never created.
        self.assertStat(run, 'owners', read=2, created=0, updated=2, failed=0)
        self.assertStat(run, 'pipelines', created=3, failed=0)
        self.assertStat(run, 'customers', created=2, failed=0)
        # The same customer rows again: a contact person for each company row (seed: company + contact).
        self.assertStat(run, 'customer_contacts', read=2, created=1, skipped=1, failed=0)
        self.assertStat(run, 'leads', created=3, failed=0)
        self.assertStat(run, 'appointments', created=1, failed=0)
        # Engagements routed by type: notes and e-mails to the chatter, meetings to the calendar.
        self.assertStat(run, 'activities', read=3, created=2, skipped=1, failed=0)
        self.assertStat(run, 'meetings', read=3, created=1, skipped=2, failed=0)
        self.assertStat(run, 'invoices', created=1, failed=0)
        self.assertStat(run, 'invoice_items', created=2, failed=0)
        self.assertEqual(self.cj_target('owners', 'U2'), self.priya)
        self.assertEqual(self.priya.x_clientjoy_owner_id, 'U2')

        # Pipelines -> stages with order and probability; the pipeline -> a sales team.
        stages = [self.cj_target('pipelines', sid) for sid in ('S1', 'S2', 'S3')]
        self.assertEqual([(st.name, st.sequence, st.x_probability, st.is_won) for st in stages], [
            ('Discovery', 1, 10.0, False), ('Proposal Sent', 2, 50.0, False), ('Closed Won', 3, 100.0, True)])
        self.assertEqual(stages[0].x_pipeline_team_id.name, 'Agency deals')
        self.assertEqual(stages[0].team_ids, stages[0].x_pipeline_team_id, "the stage shows in its team's Kanban")

        # Customers -> company or individual partners.
        company = self.cj_target('customers', 'C100')
        self.assertEqual((company.name, company.is_company, company.email, company.phone, company.x_additional_phones),
                         ('Brightside Dental', True, 'maya@brightside.example', '+1 415 555 0100', '+1 415 555 0101'))
        self.assertEqual((company.user_id, company.country_id.code), (self.priya, 'US'))
        self.assertEqual(sorted(company.category_id.mapped('name')), ['Dental', 'VIP'])
        maya = self.cj_target('customer_contacts', 'C100')
        self.assertEqual((maya.name, maya.parent_id, maya.email, maya.type, maya.is_company),
                         ('Maya Ortiz', company, 'maya@brightside.example', 'contact', False))
        self.assertEqual(company.child_ids, maya)
        self.assertFalse(
            self.cj.record_ids.filtered(lambda r: r.object_id.name == 'customer_contacts' and r.source_id == 'C101'),
            "an individual has no extra contact",
        )
        tom = self.cj_target('customers', 'C101')
        self.assertEqual((tom.name, tom.is_company, tom.user_id.id), ('Tom Berg', False, False))
        ghost = self.cj.issue_ids.filtered(lambda i: i.kind == 'unmatched_user')
        self.assertIn('ghost@agency.example', ghost.message)

        # Leads by lifecycle status, linked to their customer, with the follow-up as an activity.
        open_lead = self.cj_target('leads', 'L1')
        self.assertEqual((open_lead.name, open_lead.contact_name, open_lead.stage_id.name, open_lead.active),
                         ('Brightside Dental', 'Maya Ortiz', 'Proposal Sent', True))
        self.assertEqual((open_lead.partner_id, open_lead.user_id, open_lead.expected_revenue, open_lead.team_id.name),
                         (company, self.priya, 12000.0, 'Agency deals'))
        self.assertEqual([(a.date_deadline.isoformat(), a.summary) for a in open_lead.activity_ids],
                         [('2025-04-02', 'Send revised proposal')])
        self.assertEqual(self.cj_target('leads', 'L2').stage_id.name, 'Won')
        lost = self.cj_target('leads', 'L3')
        self.assertEqual((lost.active, lost.lost_reason_id.name), (False, 'Lost (Clientjoy)'))

        # Appointments -> calendar events at the original time (New York -> UTC).
        event = self.cj_target('appointments', 'M1')
        self.assertEqual((event.name, str(event.start), str(event.stop)),
                         ('Proposal walkthrough', '2025-04-03 19:00:00', '2025-04-03 19:45:00'))
        self.assertEqual((event.opportunity_id, event.user_id, event.videocall_location),
                         (open_lead, self.priya, 'https://zoom.example/j/1'))

        # Engagements -> chatter messages with their original timestamps.
        note = self.cj_target('activities', 'E1')
        self.assertEqual((note.model, note.res_id, str(note.date), note.message_type, note.subtype_id),
                         ('crm.lead', open_lead.id, '2024-03-02 19:30:00', 'comment', self.env.ref('mail.mt_note')))
        self.assertIn('Wants a phased rollout', note.body)
        email = self.cj_target('activities', 'E2')
        self.assertEqual((email.model, email.res_id, str(email.date), email.message_type),
                         ('res.partner', company.id, '2024-04-01 13:00:00', 'email'))

        meeting = self.cj_target('meetings', 'E3')
        self.assertEqual((meeting.name, str(meeting.start), meeting.opportunity_id, meeting.user_id),
                         ('Proposal review meeting', '2024-03-20 14:00:00', open_lead, self.priya))
        # Invoices -> customer invoices in their currency, posted when sent, with their lines.
        invoice = self.cj_target('invoices', 'I7')
        self.assertEqual((invoice.move_type, invoice.state, invoice.partner_id, invoice.currency_id.name),
                         ('out_invoice', 'posted', company, 'USD'), "sent in Clientjoy: posted")
        self.assertEqual((str(invoice.invoice_date), str(invoice.invoice_date_due), invoice.payment_reference),
                         ('2024-04-01', '2024-05-01', 'INV-7'))
        self.assertEqual([(line.name, line.quantity, line.price_unit) for line in invoice.invoice_line_ids],
                         [('Website redesign - phase 1', 1.0, 800.0), ('Hosting (3 months)', 2.0, 100.0)])
        self.assertEqual(invoice.amount_untaxed, 1000.0)

        # Rerun: nothing twice.  Rollback: back to the counts found, users untouched.
        again = self.run_full(self.cj)
        self.assertEqual(sum(again.stat_ids.mapped('created_count')), 0)
        self.run_rollback(self.cj)
        self.assertEqual(self.counts(models), before)
        self.assertTrue(self.priya.exists())
        self.assertFalse(self.priya.x_clientjoy_owner_id, "the matched user's previous value is restored")

    def test_custom_field_definitions_from_an_export(self):
        """A custom-field export types the extra columns of the other exports (seed: Custom Fields -> x_ fields).

        Clientjoy documents no export layout: the definitions file is assembled with the
        columns of its custom-field settings page (name, type, module, options).
        """
        project = self.env['crm.migration.project'].create({'name': 'Agency custom fields', 'source_type': 'clientjoy'})
        leads = ('Lead ID,First Name,Last Name,Email,Status,Owner Email,Budget Range,Decision Date,PO Number,Risk\n'
                 'L7,Ana,Lima,ana@lima.example,Open,priya@agency.example,5k-20k,2025-03-31,00412,A-\n'
                 'L8,Ben,Ode,ben@ode.example,Open,priya@agency.example,Over 20k,,,Высокий\n').encode()
        definitions = ('Field Name,Field Type,Module,Options\n'
                       'Budget Range,Dropdown,Leads,Under 5k; 5k-20k; Over 20k\n'
                       'Decision Date,Date,Leads,\n'
                       'PO Number,Single line text,Leads,\n'
                       'Risk,Dropdown,Leads,A+; A-; Высокий; Низкий\n'
                       'Shoe Size,Number,Timesheets,\n').encode()
        self._upload(project, {'leads.csv': leads, 'custom_fields.csv': definitions})
        leads_obj = project.object_ids.filtered(lambda o: o.name == 'leads')
        lines = {line.source_fields: line for line in leads_obj.field_ids}
        self.assertEqual(
            [(lines[c].target_field, lines[c].new_field_type) for c in ('budget_range', 'decision_date', 'po_number')],
            [('x_budget_range', 'selection'), ('x_decision_date', 'date'), ('x_po_number', 'char')])
        self.assertEqual({v.source_value: v.target_value for v in lines['budget_range'].value_map_ids},
                         {'Under 5k': 'Under 5k', '5k-20k': '5k-20k', 'Over 20k': 'Over 20k'})
        chatter = project.message_ids.filtered(lambda m: 'Custom field definitions' in (m.body or ''))
        self.assertIn('Shoe Size', chatter.body, "a definition for no Odoo model is reported, not dropped")
        custom = project.object_ids.filtered(lambda o: o.name == 'custom_fields')
        self.assertTrue(custom.enabled, "the definitions file is bound")
        self.assertNotIn(custom, project.object_ids.filtered('enabled')._sorted_for_load(),
                         "definitions are never loaded as ir.model.fields records")
        fields_before = self.env['ir.model.fields'].search([]).ids
        run = self.run_full(project)
        self.assertStat(run, 'leads', read=2, created=2, failed=0)
        ana = self.cj_target('leads', 'L7', project=project)
        self.assertRecordValues(ana, [{'x_budget_range': '5k_20k', 'x_po_number': '00412'}])
        # Options whose keys would collide keep apart: "A-" is not "A+", two Cyrillic options are two values.
        risk = dict(self.env['crm.lead']._fields['x_risk']._description_selection(self.env))
        ben = self.cj_target('leads', 'L8', project=project)
        self.assertEqual((risk[ana.x_risk], risk[ben.x_risk]), ('A-', 'Высокий'))
        self.assertEqual(len(risk), 4)
        self.assertEqual(str(ana.x_decision_date), '2025-03-31')
        created = self.env['ir.model.fields'].search([('id', 'not in', fields_before)])
        self.assertEqual(sorted(created.mapped('name')),
                         ['x_budget_range', 'x_clientjoy_lead_id', 'x_decision_date', 'x_po_number', 'x_risk'],
                         "the defined lead fields and the template's source id, nothing for Shoe Size")

    def test_tasks_wait_for_the_project_app_and_everything_else_migrates(self):
        """Issue: targets in apps that are not installed are reported with what to install."""
        self.assertNotIn('project.task', self.env, "the test database has no Project app")
        project = self.env['crm.migration.project'].create({'name': 'Agency tasks', 'source_type': 'clientjoy'})
        leads = (b'Lead ID,First Name,Last Name,Email,Status,Owner Email\n'
                 b'L7,Ana,Lima,ana@lima.example,Open,priya@agency.example\n')
        activities = (b'Activity ID,Activity Type,Subject,Description,Activity Date,Lead ID,Status\n'
                      b'E7,Call,First call,Interested,2024-05-02 10:00,L7,Done\n'
                      b'E8,Task,Send the proposal,By Friday,2024-05-03 09:00,L7,Open\n')
        self._upload(project, {'leads.csv': leads, 'activities.csv': activities})
        tasks = project.object_ids.filtered(lambda o: o.name == 'tasks')
        self.assertTrue(tasks.enabled, "bound with the engagements it reads")
        self.assertFalse(tasks.model_installed)
        run = self.run_full(project)
        self.assertNotIn('tasks', run.stat_ids.object_id.mapped('name'))
        self.assertStat(run, 'leads', read=1, created=1, failed=0)
        self.assertStat(run, 'activities', read=2, created=2, failed=0)  # the task is in the history too
        inventory = json.loads(self.downloaded(project.action_export_inventory()))
        self.assertIn({'object': 'tasks', 'label': tasks.label, 'target_model': 'project.task',
                       'reason': 'target project.task is not installed: install Project (project)'},
                      inventory['objects_not_migrated'])

    def test_contradictions_are_decided_and_a_rerun_writes_nothing(self):
        """The export's contradictions, listed by the audit and decided by their rule: an appointment
        ending before it starts, an invoice due before its date, a discount entered as -1 unit."""
        files = {}
        for name in FILES:
            with file_open(os.path.join(FOLDER, name), 'rb') as handle:
                files[name] = handle.read()
        files['appointments.csv'] = files['appointments.csv'].replace(
            b'2025-04-03 15:00,2025-04-03 15:45', b'2025-04-03 15:00,2025-04-03 14:15')
        files['invoices.csv'] = files['invoices.csv'].replace(b'2024-04-01,2024-05-01', b'2024-04-01,2024-03-15')
        files['invoice_items.csv'] += b'II3,I7,Loyalty discount,-1,50,0,-50\n'
        project = self.env['crm.migration.project'].create({
            'name': 'Agency contradictions', 'source_type': 'clientjoy', 'source_tz': 'America/New_York'})
        self._upload(project, files)
        project.action_confirm_mapping()
        project.action_audit()
        found = {(i.object_id.name, i.source_id): i.message for i in project.issue_ids if i.kind == 'contradiction'}
        self.assertEqual(set(found), {('appointments', 'ends_before_start'), ('invoices', 'due_before_date'),
                                      ('invoice_items', 'credit_line')})
        self.assertIn('Rows: M1.', found['appointments', 'ends_before_start'])
        self.assertIn('Rows: I7.', found['invoices', 'due_before_date'])
        self.assertIn('Rows: II3.', found['invoice_items', 'credit_line'])
        # Customer C101's owner left the agency: their records land unassigned, as decided on the audit.
        ghost = project.issue_ids.filtered(lambda i: i.kind == 'unmatched_user')
        self.assertEqual(ghost.mapped('source_id'), ['ghost@agency.example'])
        ghost.action_leave_unassigned()
        run = self.run_full(project)
        for name in ('appointments', 'invoices', 'invoice_items'):
            self.assertEqual(self.stat(run, name).failed_count, 0, name)
        meeting = self.cj_target('appointments', 'M1', project=project)
        self.assertEqual(meeting.stop - meeting.start,
                         datetime.timedelta(hours=self.env['calendar.event'].get_default_duration()))
        invoice = self.cj_target('invoices', 'I7', project=project)
        self.assertEqual(invoice.invoice_date_due, invoice.invoice_date)
        discount = self.cj_target('invoice_items', 'II3', project=project)
        self.assertEqual((discount.quantity, discount.price_unit, discount.move_id), (1.0, -50.0, invoice))
        rerun = self.run_full(project)
        self.assertEqual({stat.object_id.name: (stat.created_count, stat.updated_count) for stat in rerun.stat_ids
                          if stat.created_count or stat.updated_count}, {}, "rerun of an unchanged export: %s" % [
            (r.object_id.name, r.source_id, r.message) for r in project.record_ids if r.run_id == rerun])
        self.assertEqual({stat.object_id.name: stat.failed_count for stat in rerun.stat_ids},
                         {stat.object_id.name: stat.failed_count for stat in run.stat_ids})
