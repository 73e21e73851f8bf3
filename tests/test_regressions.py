# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Regressions found by a review of the data path: each test asserts the intended behaviour."""
import datetime

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..services import audit
from .common import CrmMigrationCommon, make_csv


@tagged('crm_migration', 'post_install', '-at_install')
class TestRegressions(CrmMigrationCommon):

    def _project(self, name, files, **values):
        project = self.env['crm.migration.project'].create(dict({'name': name, 'date_order': 'dmy'}, **values))
        self._upload(project, files)
        return project

    def _owner_project(self, name, owner):
        """One patient whose Owner column is mapped to the lead's salesperson by e-mail or login."""
        rows = [['Patient ID', 'First Name', 'Last Name', 'Owner'], ['S1', 'Ann', 'Lee', owner]]
        project = self._project(name, {'patients.csv': make_csv(rows)})
        obj = project.object_ids.filtered(lambda o: o.name == 'patients')
        obj.field_ids.filtered(lambda rec: rec.source_fields == 'owner').unlink()
        self.env['crm.migration.field'].create({'object_id': obj.id, 'source_fields': 'owner',
                                                'target_field': 'user_id', 'transform': 'user'})
        self.run_full(project)
        lead = self.env['crm.lead'].browse(project.record_ids.filtered(lambda r: r.source_id == 'S1').res_id)
        return project, lead

    # 1 ------------------------------------------------------------------
    def test_same_source_id_twice_in_one_batch(self):
        rows = [['Patient ID', 'First Name', 'Last Name'], ['S1', 'A', 'One'], ['S2', 'B', 'Two'],
                ['S1', 'A', 'Again']]
        project = self._project('dup id', {'patients.csv': make_csv(rows)})
        run = self.run_full(project)   # crashes with a unique-constraint violation
        self.assertStat(run, 'patients', read=3, created=2, failed=1)

    # 2 ------------------------------------------------------------------
    def test_merged_duplicate_rerun_does_not_overwrite_target(self):
        self.run_full()
        self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate').action_merge()
        self.run_full()
        anna = self.target('practitioners', 'PR1')
        self.assertIn('Anna', anna.name)
        self.run_full()   # third run: PR3's 'linked' row is now written onto PR1's partner
        self.assertIn('Anna', anna.name, "PR1's record renamed to %r by PR3's row" % anna.name)

    # 3 ------------------------------------------------------------------
    def test_timezone_fix_is_applied_on_rerun(self):
        self.run_full()
        a1 = self.target('appointments', 'A1')
        field = next(n for n, f in a1._fields.items() if n.startswith('x_') and f.type == 'datetime')
        before = a1[field]
        self.project.source_tz = 'UTC'   # the consultant fixes the wrong source timezone
        rerun = self.run_full()
        self.assertNotEqual(a1[field], before, "rerun after changing the timezone left %s unchanged (%s)"
                            % (field, self.counters(rerun) if hasattr(self, 'counters') else ''))

    # 4 ------------------------------------------------------------------
    def test_duplicate_email_case_across_batches(self):
        rows = [['Practitioner ID', 'First Name', 'Last Name', 'Email'],
                ['X1', 'Anna', 'One', 'Anna@Clinic.test'], ['X2', 'Anna', 'Two', 'anna@clinic.TEST']]
        project = self._project('dedup case', {'practitioners.csv': make_csv(rows)}, batch_size=1)
        run = self.run_full(project)
        self.assertStat(run, 'practitioners', created=1, skipped=1)

    # 5 ------------------------------------------------------------------
    def test_patient_duplicate_resolved_skip_is_honoured(self):
        rows = [['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email'],
                ['S1', 'Ann', 'Lee', '01/02/1980', ''], ['S2', 'Ann', 'Lee', '01/02/1980', '']]
        project = self._project('name dob', {'patients.csv': make_csv(rows)})
        audit.run_audit(project)
        issue = project.issue_ids.filtered(lambda i: i.kind == 'duplicate')
        self.assertEqual(issue.source_id, 'S2')
        issue.action_skip()
        run = self.run_full(project)
        self.assertStat(run, 'patients', created=1, skipped=1)

    # 6 ------------------------------------------------------------------
    def test_unmatched_user_resolved_then_rerun(self):
        project, lead = self._owner_project('owner', 'nobody@x.test')
        picked = self.env['res.users'].create({'name': 'Picked', 'login': 'picked_user'})
        # The reconciliation queue: a person picks the user for the unknown owner, then reruns.
        audit.run_audit(project)
        issue = project.issue_ids.filtered(lambda i: i.kind == 'unmatched_user' and i.source_id == 'nobody@x.test')
        issue.write({'user_id': picked.id})
        issue.action_use_user()
        self.run_full(project)
        self.assertEqual(lead.user_id, picked, "the picked user never lands on the existing lead")

    # 7 ------------------------------------------------------------------
    def test_rollback_while_run_paused_then_resume(self):
        """A rollback cancels a paused run, which then cannot be resumed into a half migration."""
        run = self.paused_run()
        self.project.action_rollback()
        self.assertEqual(run.state, 'cancelled')
        rollback = self.project.run_ids.filtered(lambda r: r.kind == 'rollback')
        rollback._execute()
        self.assertEqual(self.project.state, 'rolled_back')
        with self.assertRaisesRegex(UserError, 'A rollback came after this run'):
            run.action_resume()
        self.assertFalse(self.project.record_ids.filtered(lambda r: r.operation in ('created', 'updated', 'linked')))

    # 8 ------------------------------------------------------------------
    def test_second_copy_of_id_in_later_batch_on_rerun(self):
        rows = [['Patient ID', 'First Name', 'Last Name'], ['S1', 'First', 'Copy'], ['S2', 'B', 'Two'],
                ['S1', 'Second', 'Copy']]
        project = self._project('dup id 2', {'patients.csv': make_csv(rows)}, batch_size=2)
        self.run_full(project)
        lead = self.env['crm.lead'].browse(project.record_ids.filtered(
            lambda r: r.source_id == 'S1' and r.res_model == 'crm.lead').res_id)
        self.assertEqual(lead.name, 'First Copy')
        second = self.run_full(project)
        self.assertEqual(lead.name, 'First Copy')
        self.assertStat(second, 'patients', unchanged=2, failed=1)

    # 9 ------------------------------------------------------------------
    def test_lookup_cell_with_only_separator_fails_the_row_only(self):
        from .common import fixture_bytes
        content = fixture_bytes('appointments.csv') + b'A8,;,PR1,Consultation,08/02/2025 10:00,30,Scheduled,\n'
        self._upload(self.project, {'appointments.csv': content})
        run = self.run_full()
        self.assertStat(run, 'appointments', read=8, created=4, failed=4)

    # 10 -----------------------------------------------------------------
    def test_merge_into_existing_record_rerun_then_rollback(self):
        ben = self.env['res.partner'].create({'name': 'Dr Ben (existing)', 'email': 'ben@clinic.test', 'phone': '111'})
        audit.run_audit(self.project)
        issue = self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate' and i.source_id == 'PR2')
        self.assertEqual(issue.res_id, ben.id)
        issue.action_merge()
        self.run_full()
        self.assertEqual(self.link('practitioners', 'PR2').operation, 'linked')
        self.assertEqual(ben.name, 'Dr Ben (existing)', "linked: used as it is")
        self.run_full()
        name_after_rerun = ben.name
        link = self.link('practitioners', 'PR2')
        state = (link.operation, link.before_values)
        self.run_rollback()
        self.assertEqual(
            (ben.name, ben.phone),
            ('Dr Ben (existing)', '111'),
            "rerun wrote %r on the existing partner (link %s); rollback left it" % (name_after_rerun, state),
        )

    # 11 -----------------------------------------------------------------
    def test_write_back_undone_by_rollback_of_delta(self):
        appointments = self.objects['appointments']
        self.env['crm.migration.field'].create({
            'object_id': appointments.id, 'source_fields': 'notes', 'target_field': 'function',
            'write_to_object_id': self.objects['patients'].id, 'write_mode': 'set'})
        self.run_full()
        jose = self.target('patients', 'P001')
        self.assertEqual(jose.function, 'First visit')
        from .common import fixture_bytes

        content = (
            fixture_bytes('appointments.csv')
            + b'A8,P001,PR1,Consultation,08/02/2025 10:00,30,Scheduled,Later visit\r\n'
        )
        self._upload(self.project, {'appointments.csv': content})
        delta = self.project._create_run('delta')
        delta._execute()
        self.assertEqual(jose.function, 'Later visit')
        self.run_rollback(of_run=delta)
        self.assertFalse(self.link('appointments', 'A8').operation in ('created',))
        self.assertEqual(jose.function, 'First visit', "rollback of the delta kept its write-back")

    # 12 -----------------------------------------------------------------
    def test_deletion_archive_of_existing_record_undone_by_project_rollback(self):
        from ..services.loader import ObjectLoader
        ben = self.env['res.partner'].create({'name': 'Dr Ben (existing)', 'email': 'ben@clinic.test'})
        self.objects['practitioners'].match_existing = True
        self.run_full()
        self.assertEqual(self.link('practitioners', 'PR2').operation, 'updated')
        deleted = self.env['crm.migration.object'].create({
            'project_id': self.project.id, 'name': 'practitioners_deleted', 'label': 'Deleted practitioners',
            'target_model': 'res.partner', 'deletes_object_id': self.objects['practitioners'].id,
            'source_key': 'practitioner_id', 'enabled': False})
        delta = self.project._create_run('delta')
        ObjectLoader(delta, deleted, None).load([{'practitioner_id': 'PR2', '_line_nr': 2}])
        # It existed before the migration: not the source's to archive.
        self.assertTrue(ben.active)
        self.assertIn('existed before the migration', self.link('practitioners', 'PR2').message)
        self.run_rollback()
        self.assertTrue(ben.exists())
        self.assertTrue(ben.active)

    # 13 -----------------------------------------------------------------
    def test_rollback_ignores_links_of_disabled_objects(self):
        before = self.target_counts()
        self.run_full()
        self.objects['appointments'].enabled = False
        self.run_rollback()
        self.assertEqual(self.project.state, 'rolled_back')
        live = self.project.record_ids.filtered(lambda r: r.operation in ('created', 'updated', 'linked'))
        self.assertFalse(live, live.mapped(lambda r: (r.object_id.name, r.source_id, r.res_model)))
        self.assertEqual(self.target_counts(), before)

    # 14 -----------------------------------------------------------------
    def test_second_plain_rollback_keeps_what_the_first_kept(self):
        from odoo.tests import new_test_user
        self.run_full()
        zoe = self.target('patients', 'P006')
        self.link('patients', 'P006').synced_at -= datetime.timedelta(minutes=5)
        editor = new_test_user(self.env, 'editor_mgr', groups='sales_team.group_sale_manager,'
                               'crm_migration.group_crm_migration_manager,base.group_system')
        zoe.with_user(editor).write({'phone': '0400 000 000'})
        first = self.run_rollback()
        self.assertStat(first, 'patients', kept=1)
        # The editor (a migration manager) clicks "Roll back everything" again, without forcing.
        second = self.env['crm.migration.run'].with_user(editor).create({
            'project_id': self.project.id, 'kind': 'rollback'})
        second._execute()
        self.assertTrue(zoe.exists(), "a plain (not forced) rollback deleted the record a user edited")

    # 15 -----------------------------------------------------------------
    def test_rollback_order_when_failed_row_is_retried_with_new_side_record(self):
        self.run_full()
        self.assertEqual(self.link('appointments', 'A6').operation, 'failed')   # 'Tentative' has no mapping
        lines = self.objects['appointments'].field_ids
        for target, value in (('stage_id', 'crm.stage_lead1'), ('active', '0'), ('lost_reason_id', 'On hold')):
            line = lines.filtered(lambda f, target=target: f.target_field == target and f.transform == 'value_map')
            self.env['crm.migration.value.map'].create({'field_id': line.id, 'source_value': 'tentative',
                                                        'target_value': value})
        reasons_before = self.env['crm.lost.reason'].with_context(active_test=False).search_count([])
        second = self.project._create_run('full')
        second._execute()
        self.assertEqual(self.link('appointments', 'A6').operation, 'created')
        self.run_rollback()
        reason_link = self.link('appointments', 'crm.lost.reason:On hold', 'crm.lost.reason')
        self.assertEqual(reason_link.operation, 'rolled_back', reason_link.message)
        # The first run's two reasons and "On hold" are gone: removed after the leads using them.
        self.assertEqual(self.env['crm.lost.reason'].with_context(active_test=False).search_count([]),
                         reasons_before - 2)

    # 16 -----------------------------------------------------------------
    def test_owner_with_wildcard_characters(self):
        project, lead = self._owner_project('owner wildcard', '%')
        issues = project.issue_ids.filtered(lambda i: i.kind == 'unmatched_user')
        self.assertTrue(issues, "owner '%%' matched user %r (login %s) instead of being unmatched"
                        % (lead.user_id.name, lead.user_id.login))

    # 17 -----------------------------------------------------------------
    def test_rematch_after_rollback_keeps_stale_before_values(self):
        ben = self.env['res.partner'].create({'name': 'Dr Ben (existing)', 'email': 'ben@clinic.test', 'phone': '111'})
        self.objects['practitioners'].match_existing = True
        self.run_full()
        self.run_rollback()
        self.assertEqual(ben.phone, '111')
        ben.phone = '222'            # a user edits the contact after the rollback
        self.run_full()              # migrate again
        self.run_rollback()
        self.assertEqual(ben.phone, '222', "the second rollback restored the values of the first migration")

    # 18 -----------------------------------------------------------------
    def test_discard_sample_while_full_run_queued(self):
        """The full run reuses the sample's records: discarding the sample is refused."""
        self.project.sample_size = 6
        self.approve()
        action = self.project.action_start_run()
        full = self.env['crm.migration.run'].browse(action['res_id'])
        with self.assertRaisesRegex(UserError, "already uses the sample's records"):
            self.project.action_discard_sample()
        full._execute()
        live = self.project.record_ids.filtered(lambda r: r.operation in ('created', 'updated', 'linked')
                                                and r.object_id.name == 'patients' and r.res_model == 'crm.lead')
        self.assertEqual(len(live), 5)

    # 19 -----------------------------------------------------------------
    def test_records_land_in_the_project_company(self):
        from .common import FIXTURE_FILES, fixture_bytes
        company_b = self.env['res.company'].create({'name': 'Clinic B'})
        project = self.env['crm.migration.project'].create({
            'name': 'Clinic B migration', 'source_tz': 'Australia/Sydney', 'company_id': company_b.id})
        self._upload(project, {name: fixture_bytes(name) for name in FIXTURE_FILES})
        self.run_full(project)     # the cron runs as OdooBot, whose current company is the main one
        orders = project.record_ids.filtered(lambda r: r.res_model == 'sale.order' and r.operation == 'created')
        companies = self.env['sale.order'].browse(orders.mapped('res_id')).company_id
        self.assertEqual(
            companies, company_b, "orders of Clinic B's migration created in %s" % companies.mapped('name')
        )

    def test_unexpected_row_error_under_cron(self):
        """A bug or an outage (not a bad row) stops the run resumably, with the reason."""
        from unittest.mock import patch

        from ..services import loader

        original = loader.ObjectLoader.load

        def load(self, rows):
            if self.obj.name == 'appointments':
                raise RuntimeError('disk full')
            return original(self, rows)

        run = self.project._create_run('full')
        run._schedule()
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        with patch.object(loader.ObjectLoader, 'load', load), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        run.invalidate_recordset()
        self.assertEqual(run.state, 'failed')
        self.assertIn('RuntimeError: disk full', run.message)
        self.assertEqual(run.current_object_id.name, 'appointments', "resumes there")

    def test_manager_reads_any_attachment_through_object_binding(self):
        from odoo.exceptions import AccessError
        from odoo.tests import new_test_user
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        secret = self.env['ir.attachment'].create({
            'name': 'payroll.csv', 'raw': b'Patient ID,First Name,Last Name\nS1,Secret,Salary 99000\n',
            'res_model': 'ir.cron', 'res_id': cron.id})
        manager = new_test_user(self.env, 'mig_mgr', groups='base.group_user,sales_team.group_sale_manager,'
                                'crm_migration.group_crm_migration_manager')
        with self.assertRaises(AccessError):
            secret.with_user(manager).raw  # noqa: B018  # pylint: disable=pointless-statement  # reading is the test
        project = self.project.with_user(manager)
        patients = project.object_ids.filtered(lambda o: o.name == 'patients')
        patients.write({'attachment_id': secret.id})
        with self.assertRaises(AccessError):
            project._get_source()
