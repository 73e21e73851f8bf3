# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import types
from unittest.mock import patch

from odoo.tests import tagged

from ..services import loader as loader_module
from .common import CrmMigrationCommon, fixture_bytes, make_csv


@tagged('crm_migration', 'post_install', '-at_install')
class TestRerunRollback(CrmMigrationCommon):

    def test_rerun_creates_nothing_twice(self):
        self.run_full()
        counts = self.target_counts()
        links = self.env['crm.migration.record'].search_count([('project_id', '=', self.project.id)])
        second = self.run_full()
        self.assertEqual(sum(second.stat_ids.mapped('created_count')), 0)
        self.assertEqual(sum(second.stat_ids.mapped('updated_count')), 0)
        self.assertStat(second, 'patients', read=6, unchanged=5, failed=1)
        self.assertStat(second, 'appointments', read=7, unchanged=4, failed=3)
        self.assertEqual(self.target_counts(), counts)
        self.assertEqual(self.env['crm.migration.record'].search_count(
            [('project_id', '=', self.project.id)]), links, "no second link row per source record")

    def test_changed_rows_update_and_fixed_rows_land(self):
        self.run_full()
        jose = self.target('patients', 'P001')
        # The clinic fixes P004's birth date and José's e-mail, then exports again.
        content = fixture_bytes('patients.csv').replace(b'31/02/1980', b'28/02/1980').replace(
            b'jose@example.test', b'jose.garcia@example.test')
        self._upload(self.project, {'patients.csv': content})
        counts = self.target_counts()
        rerun = self.run_full()
        self.assertStat(rerun, 'patients', created=1, updated=1, unchanged=4, failed=0)
        self.assertEqual(jose.email_from, 'jose.garcia@example.test')
        self.assertEqual(self.link('patients', 'P001').operation, 'created', "still ours: rollback deletes it")
        self.assertEqual(self.target('patients', 'P004').x_source_patient_id, 'P004')
        self.assertEqual(self.target_counts()['crm.lead'], counts['crm.lead'] + 1)

    def test_resolved_duplicate_lands_with_its_appointment(self):
        self.run_full()
        issue = self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate')
        issue.action_create_separate()
        rerun = self.run_full()
        self.assertStat(rerun, 'practitioners', created=1, unchanged=2, skipped=0)
        self.assertStat(rerun, 'appointments', created=1, unchanged=4, failed=2)
        self.assertEqual(self.target('appointments', 'A4').x_practitioner_id, self.target('practitioners', 'PR3'))

    def test_duplicate_resolved_as_merge_links_existing_record(self):
        self.run_full()
        self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate').action_merge()
        self.run_full()
        link = self.link('practitioners', 'PR3')
        self.assertEqual(link.operation, 'linked')
        self.assertEqual(link.res_id, self.target('practitioners', 'PR1').id)
        self.assertEqual(self.target('appointments', 'A4').x_practitioner_id, self.target('practitioners', 'PR1'))

    def test_rollback_restores_counts_exactly(self):
        before = self.target_counts()
        run = self.run_full()
        self.assertNotEqual(self.target_counts(), before)
        rollback = self.run_rollback()
        self.assertEqual(self.target_counts(), before)
        self.assertStat(rollback, 'patients', removed=7, failed=0)  # 5 leads + 2 contacts made for invoices
        # 4 leads + 4 activities + the 2 lost reasons the status map created by name
        self.assertStat(rollback, 'appointments', removed=10, failed=0)
        self.assertStat(rollback, 'invoice_lines', removed=3, failed=0)
        self.assertStat(rollback, 'invoices', removed=2, failed=0)
        self.assertEqual(self.project.state, 'rolled_back')
        live = self.project.record_ids.filtered(lambda r: r.operation in ('created', 'updated', 'linked'))
        self.assertFalse(live)
        # The link rows stay as the audit trail; a new run creates again.
        again = self.run_full()
        self.assertStat(again, 'patients', created=5, failed=1)
        self.assertEqual(len(run.stat_ids), len(again.stat_ids))

    def test_rollback_of_one_run_only(self):
        self.run_full()
        self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate').action_create_separate()
        second = self.run_full()
        counts = self.target_counts()
        self.run_rollback(of_run=second)
        after = self.target_counts()
        self.assertEqual(counts['res.partner'] - after['res.partner'], 1, "only PR3")
        self.assertEqual(counts['crm.lead'] - after['crm.lead'], 1, "only appointment A4")
        self.assertTrue(self.target('practitioners', 'PR1').exists())

    def test_update_of_existing_record_restored_by_rollback(self):
        ben = self.env['res.partner'].create({
            'name': 'Dr Ben (existing)', 'email': 'ben@clinic.test', 'phone': '111', 'function': 'Chiro'})
        self.objects['practitioners'].match_existing = True
        before = self.target_counts()
        self.run_full()
        link = self.link('practitioners', 'PR2')
        self.assertEqual((link.operation, link.res_id), ('updated', ben.id))
        self.assertEqual(ben.name, "Ben O'Brien")
        self.assertEqual(ben.x_specialty, 'Chiropractic')
        self.assertEqual(link.before_values['name'], 'Dr Ben (existing)')
        self.assertEqual(link.before_values['phone'], '111')
        self.run_rollback()
        self.assertTrue(ben.exists(), "an existing record is restored, never deleted")
        self.assertEqual((ben.name, ben.phone, ben.function), ('Dr Ben (existing)', '111', 'Chiro'))
        self.assertFalse(ben.x_specialty)
        self.assertEqual(self.target_counts(), before)

    def test_bad_row_in_batch_is_isolated(self):
        """An error raised by the database (not the mapper) fails that row only."""
        rows = [['Patient ID', 'First Name', 'Last Name', 'Probability']]
        rows += [['S%d' % i, 'Name%d' % i, 'Last', '150' if i == 3 else str(10 * i)] for i in range(1, 7)]
        project = self.env['crm.migration.project'].create({'name': 'Split', 'batch_size': 4})
        self._upload(project, {'patients.csv': make_csv(rows)})
        line = project.object_ids.field_ids.filtered(lambda f: f.source_fields == 'probability')
        # 150 breaks crm.lead's probability CHECK constraint when the batch is flushed.
        line.write({'target_field': 'probability'})
        run = self.run_full(project)
        self.assertStat(run, 'patients', read=6, created=5, failed=1)
        records = {r.source_id: r for r in project.record_ids}
        self.assertEqual(records['S3'].operation, 'failed')
        self.assertIn('probability', records['S3'].message.lower())
        for source_id in ('S1', 'S2', 'S4', 'S5', 'S6'):
            self.assertEqual(records[source_id].operation, 'created')
        lead = self.env['crm.lead'].browse(records['S4'].res_id)
        self.assertEqual((lead.name, lead.probability), ('Name4 Last', 40.0))

    def test_thousand_patients_stream_in_batches(self):
        rows = [['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email']]
        rows += [['Q%04d' % i, 'First%d' % i, 'Last%d' % i, '%02d/03/1980' % (i % 28 + 1),
                  'p%d@example.test' % i] for i in range(1000)]
        project = self.env['crm.migration.project'].create({'name': 'Big', 'batch_size': 200, 'date_order': 'dmy'})
        self._upload(project, {'patients.csv': make_csv(rows)})
        seen = []
        original = loader_module.ObjectLoader.load

        def load(loader, batch):
            seen.append(len(batch))
            return original(loader, batch)

        source_rows = project._get_source().iter_rows('patients')
        self.assertIsInstance(source_rows, types.GeneratorType, "rows are streamed, not a list")
        with patch.object(loader_module.ObjectLoader, 'load', load):
            run = self.run_full(project)
        self.assertEqual(seen, [200] * 5, "never more than one batch of rows in memory")
        self.assertStat(run, 'patients', source=1000, read=1000, created=1000, failed=0)
        self.assertEqual(self.env['crm.lead'].search_count([('x_source_patient_id', '=like', 'Q%')]), 1000)
