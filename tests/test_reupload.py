# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Real exports land once: re-uploads keep the reviewed mapping, nothing lands twice
(across runs and across projects), and rows identified by several columns.

Fixture: ``tests/fixtures/powerdiary`` (see its README for the vendor's pages).
"""
import datetime
import os

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import file_open

from ..connectors import mapper as mapping
from ..services.loader import ObjectLoader
from .common import CrmMigrationCommon

FOLDER = 'crm_migration/tests/fixtures/powerdiary'
FILES = ('Clients.csv', 'Practitioners.csv', 'Invoices.csv', 'Invoice Items.csv')
OBJECTS = ('practitioners', 'patients', 'invoices', 'invoice_lines')
MODELS = ('crm.lead', 'res.partner', 'sale.order', 'sale.order.line')


def export(**replacements):
    """The export's files; ``replacements`` maps a file (``Clients_csv``) to [(old, new), ...]."""
    files = {}
    for name in FILES:
        with file_open(os.path.join(FOLDER, name), 'rb') as handle:
            content = handle.read()
        for old, new in replacements.get(name.replace(' ', '_').replace('.', '_'), ()):
            assert old in content, old
            content = content.replace(old, new)
        files[name] = content
    return files


# The clinic exports again a month later: Olivia changed her e-mail, Ava got a mobile number, a new
# client arrived, a "Preferred Name" column appeared and the "Title" column (its line switched off in
# the review) went away.
CHANGED_CLIENTS = [
    (b'Client ID,Title,First Name', b'Client ID,First Name'),
    (b',Occupation,Notes\n', b',Occupation,Notes,Preferred Name\n'),
    (b'C001,Mr,', b'C001,'), (b'C002,Ms,', b'C002,'), (b'C003,Dr,', b'C003,'),
    (b'C004,Mrs,', b'C004,'), (b'C005,Mx,', b'C005,'), (b'C006,Mr,', b'C006,'),
    (b'olivia.smith@example.test', b'olivia.s@example.test'),
    (b'C004,Ava,Brown,14/02/1968,,0412 000 004', b'C004,Ava,Brown,14/02/1968,,0412 999 004'),
]


@tagged('crm_migration', 'post_install', '-at_install')
class TestReupload(CrmMigrationCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['product.product'].create({'name': 'Treatment review', 'default_code': 'REVIEW', 'list_price': 60.0})
        cls.pd = cls.new_project('Power Diary clinic')

    @classmethod
    def new_project(cls, name):
        project = cls.env['crm.migration.project'].create({'name': name, 'source_tz': 'Australia/Sydney',
                                                            'sample_size': 6})
        cls._upload(project, export())
        return project

    def setUp(self):
        super().setUp()
        self.project = self.pd

    # ------------------------------------------------------------------
    def obj(self, name, project=None):
        return (project or self.project).object_ids.filtered(lambda o: o.name == name)

    def line(self, object_name, column=None, target=None, project=None):
        lines = self.obj(object_name, project).field_ids
        line = lines.filtered(lambda f: f.source_fields == column) if column else \
            lines.filtered(lambda f: f.target_field == target and f.enabled)
        self.assertEqual(len(line), 1, "one line for %s/%s: %s" % (column, target, lines.mapped('source_fields')))
        return line

    def review(self, project=None):
        """The consultant's review: one line off, one re-pointed, a value map entry and a default added."""
        self.line('patients', 'title', project=project).enabled = False
        self.line('patients', 'occupation', project=project).write({'target_field': 'function', 'transform': 'direct'})
        self.line('patients', target='city', project=project).default_value = 'Sydney'
        self.env['crm.migration.value.map'].create({
            'field_id': self.line('invoices', target='state', project=project).id,
            'source_value': 'Awaiting Payment', 'target_value': 'sent'})

    def mapping_snapshot(self, project=None):
        return {obj.name: (obj.source_key, obj.enabled, sorted(
            (line.source_fields or '', line.target_field, line.enabled, line.transform, line.default_value or '',
             tuple(sorted((v.source_value, v.target_value) for v in line.value_map_ids)))
            for line in obj.field_ids)) for obj in (project or self.project).object_ids}

    def migrate(self, project=None):
        """Review, confirm, audit, sample, approve, full run: the README's path."""
        project = project or self.project
        self.review(project)
        self.approve(project)
        run = self.env['crm.migration.run'].browse(project.action_start_run()['res_id'])
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        self.assertEqual(project.state, 'done')
        return run

    def full_run(self, project=None):
        project = project or self.project
        run = self.env['crm.migration.run'].browse(project.action_start_run()['res_id'])
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        return run

    def counts(self):
        return {model: self.env[model].with_context(active_test=False).search_count([]) for model in MODELS}

    def assertNothingWritten(self, run):
        for name in OBJECTS:
            self.assertStat(run, name, created=0, updated=0, failed=0)

    # ------------------------------------------------------------------
    def test_composite_id_detected_and_joined(self):
        items = self.obj('invoice_lines')
        self.assertEqual(items.source_key, 'invoice_no,line', "no single column is unique: Invoice No. + Line")
        self.assertEqual(self.obj('patients').source_key, 'client_id')
        self.migrate()
        line = self.target('invoice_lines', '1003|2')
        self.assertEqual((line.name, line.product_uom_qty, line.order_id), (
            'Treatment review', 2.0, self.target('invoices', '1003')))
        self.assertEqual(len(self.project.record_ids.filtered(lambda r: r.object_id == items and
                                                              r.operation == 'created')), 8)

    def test_composite_id_lookups_and_audit_message(self):
        self.migrate()
        items = self.obj('invoice_lines')
        invoices = self.obj('invoices')
        # A reference giving the same columns reads them as one id.
        line = self.env['crm.migration.field'].create({
            'object_id': invoices.id, 'source_fields': 'invoice_no,line', 'target_field': 'x_first_line',
            'transform': 'lookup', 'lookup_object_id': items.id, 'new_field_type': 'many2one',
            'new_field_relation': 'sale.order.line', 'enabled': False})
        values, _problems = mapping.Mapper([line._spec()]).map_row({'invoice_no': '1003', 'line': '2'})
        self.assertEqual(values['x_first_line'], mapping.LookupRef('invoice_lines', '1003|2'))
        # A reference giving the first column only resolves where it names one row.
        run = self.project.run_ids.filtered(lambda r: r.kind == 'full')
        loader = ObjectLoader(run, invoices, self.project._get_source())
        refs = [mapping.LookupRef('invoice_lines', key) for key in ('1003|2', '1002', '1003')]
        resolved = loader._resolve_lookups(refs)
        self.assertEqual(resolved[refs[0]][1], self.target('invoice_lines', '1003|2').id)
        self.assertEqual(resolved[refs[1]][1], self.target('invoice_lines', '1002|1').id)
        self.assertNotIn(refs[2], resolved, "1003 has three lines: ambiguous, not guessed")
        line.unlink()
        self.assertEqual(self.project.state, 'draft', "a mapping edited after the run is confirmed again")
        self.project.action_confirm_mapping()
        self.assertEqual(self.project.state, 'done')
        # A row with an empty part of its id is named by the columns the file has.
        self._upload(self.project, export(Invoice_Items_csv=[(b'1005,1,REVIEW', b'1005,,REVIEW')]))
        self.assertEqual(items.source_key, 'invoice_no,line', "reviewed: kept, not guessed again")
        self.project.action_audit()
        issue = self.project.issue_ids.filtered(lambda i: i.object_id == items and i.kind == 'invalid')
        self.assertEqual(issue.message, "Line 9 has no value in the id column(s) Invoice No., Line.")
        issue.action_accept()
        rerun = self.full_run()
        self.assertStat(rerun, 'invoice_lines', created=0, updated=0, unchanged=7, failed=1)

    def test_identical_reupload_keeps_review_and_writes_nothing(self):
        self.migrate()
        mapping_before = self.mapping_snapshot()
        checksums = {r.id: r.checksum for r in self.project.record_ids}
        counts = self.counts()
        self._upload(self.project, export())
        self.assertEqual(self.mapping_snapshot(), mapping_before, "the reviewed mapping is kept as it was")
        self.assertEqual(self.project.state, 'done', "nothing changed: no new confirmation needed")
        self.assertFalse(self.project.mapping_change_ids)
        rerun = self.full_run()
        self.assertNothingWritten(rerun)
        self.assertStat(rerun, 'patients', unchanged=6)
        self.assertStat(rerun, 'invoice_lines', unchanged=8)
        self.assertEqual(self.counts(), counts)
        self.assertEqual({r.id: r.checksum for r in self.project.record_ids}, checksums)
        # Reviewed choices: the disabled line stays off, the re-pointed one feeds its new target.
        self.assertFalse(self.line('patients', 'title').enabled)
        self.assertEqual(self.target('patients', 'C001').function, 'Teacher')
        self.assertEqual(self.target('patients', 'C003').city, 'Sydney')
        self.assertEqual(self.target('invoices', '1002').state, 'sent')

    def test_changed_export_proposes_changes_then_updates_exactly_the_changed_rows(self):
        self.migrate()
        mapping_before = self.mapping_snapshot()
        counts = self.counts()
        self._upload(self.project, export(Clients_csv=CHANGED_CLIENTS + [
            (b'0412 000 006,02 9000 1006,3 Park Ln,Mosman,NSW,2088,Accountant,\n',
             b'0412 000 006,02 9000 1006,3 Park Ln,Mosman,NSW,2088,Accountant,,Jacko\n'
             b'C007,Mia,Wilson,08/08/1988,mia.wilson@example.test,0412 000 007,,,Coogee,NSW,2034,Designer,,\n')]))
        self.assertEqual(self.mapping_snapshot(), mapping_before, "proposed, not applied")
        self.assertEqual(self.project.state, 'draft', "behind Confirm mapping again, from done")
        changes = self.project.mapping_change_ids
        self.assertEqual([(c.object_id.name, c.kind, c.column_label, c.state) for c in changes],
                         [('patients', 'new_column', 'Preferred Name', 'open')])
        with self.assertRaises(UserError):
            self.project.action_confirm_mapping()
        with self.assertRaises(UserError):
            self.project.action_start_run()
        changes.action_reject()
        self.project.action_confirm_mapping()
        self.assertEqual(self.project.state, 'done')
        rerun = self.full_run()
        self.assertStat(rerun, 'patients', created=1, updated=2, unchanged=4, failed=0)
        for name in ('practitioners', 'invoices', 'invoice_lines'):
            self.assertStat(rerun, name, created=0, updated=0, failed=0)
        self.assertEqual(self.target('patients', 'C002').email_from, 'olivia.s@example.test')
        self.assertEqual(self.target('patients', 'C004').phone, '0412 999 004')
        self.assertEqual(self.counts()['crm.lead'], counts['crm.lead'] + 1)
        # The same changed files again: the decided change is not proposed again, nothing is written.
        self._upload(self.project, export(Clients_csv=CHANGED_CLIENTS))
        self.assertEqual(self.project.state, 'done')
        self.assertNothingWritten(self.full_run())

    def test_accepted_changes_apply_to_the_mapping(self):
        self.migrate()
        self._upload(self.project, export(
            Invoices_csv=[(b',Status,Total\n', b',Status\n'), (b',180.00\n', b'\n'), (b',90.00\n', b'\n'),
                          (b',250.00\n', b'\n'), (b',70.00\n', b'\n')],
            Clients_csv=CHANGED_CLIENTS))
        changes = self.project.mapping_change_ids
        gone = changes.filtered(lambda c: c.kind == 'missing_column')
        self.assertEqual((gone.object_id.name, gone.column, gone.field_id.target_field),
                         ('invoices', 'total', 'x_source_total_amount'))
        new = changes.filtered(lambda c: c.kind == 'new_column')
        changes.action_accept()
        self.assertFalse(gone.field_id.enabled)
        created = self.line('patients', 'preferred_name')
        self.assertEqual(created.target_field, new.line_values['target_field'])
        self.project.action_confirm_mapping()
        self.assertEqual(self.project.state, 'done')

    def test_id_column_gone_is_proposed_not_guessed_silently(self):
        self.migrate()
        self._upload(self.project, export(Practitioners_csv=[(b'Staff ID;', b'Staff Code;')]))
        change = self.project.mapping_change_ids.filtered(lambda c: c.kind == 'missing_key')
        self.assertEqual(self.obj('practitioners').source_key, 'staff_id', "kept until a person decides")
        self.assertEqual((change.column, change.new_key), ('staff_id', 'staff_code'))
        change.action_accept()
        self.assertEqual(self.obj('practitioners').source_key, 'staff_code')

    def test_second_project_raises_duplicates_and_creates_nothing_unasked(self):
        self.migrate()
        counts = self.counts()
        other = self.new_project('Same clinic, re-created project')
        self.review(other)
        other.action_confirm_mapping()
        other.action_audit()
        duplicates = other.issue_ids.filtered(lambda i: i.kind == 'duplicate')
        found = {}
        for issue in duplicates:
            found.setdefault(issue.object_id.name, set()).add(issue.source_id)
            self.assertEqual(issue.res_id, self.target(issue.object_id.name, issue.source_id).id, issue.message)
        self.assertEqual({name: len(ids) for name, ids in found.items()},
                         {'practitioners': 3, 'patients': 6, 'invoices': 5, 'invoice_lines': 8})
        jack = duplicates.filtered(lambda i: i.source_id == 'C006')
        self.assertIn('migrated by project Power Diary clinic', jack.message)
        review = duplicates.filtered(lambda i: i.source_id == '1003|2')
        self.assertIn('1003 / Treatment review already belongs to', review.message)
        self.assertTrue(all(duplicates.mapped('blocking')))
        # A run nobody decided on writes nothing: the loader holds the rows back too.
        held = self.run_full(other)
        self.assertEqual(self.counts(), counts)
        for name in OBJECTS:
            self.assertStat(held, name, created=0)
        # Decided: use the existing records. Still nothing new, and each row is linked to its record.
        duplicates.action_merge()
        self.run_full(other)
        self.assertEqual(self.counts(), counts)
        for issue in duplicates:
            link = self.env['crm.migration.record'].search([
                ('project_id', '=', other.id), ('object_id', '=', issue.object_id.id),
                ('source_id', '=', issue.source_id), ('res_model', '=', issue.res_model)])
            self.assertEqual((link.operation, link.res_id), ('linked', issue.res_id))

    def test_rerun_of_same_project_raises_no_duplicates_of_itself(self):
        self.migrate()
        self.project.action_audit()
        self.assertFalse(self.project.issue_ids.filtered(lambda i: i.kind == 'duplicate' and i.state == 'open'))
        rerun = self.full_run()
        self.assertNothingWritten(rerun)
        self.assertStat(rerun, 'practitioners', unchanged=3, skipped=0)

    def test_cutover_reupload_with_changes_delta_close(self):
        self.migrate()
        counts = self.counts()
        self.project.action_start_cutover()
        self._upload(self.project, export(Clients_csv=CHANGED_CLIENTS + [
            (b'0412 000 006,02 9000 1006,3 Park Ln,Mosman,NSW,2088,Accountant,\n',
             b'0412 000 006,02 9000 1006,3 Park Ln,Mosman,NSW,2088,Accountant,,\n'
             b'C007,Mia,Wilson,08/08/1988,mia.wilson@example.test,0412 000 007,,,Coogee,NSW,2034,Designer,,\n')]))
        self.assertEqual(self.project.state, 'draft')
        # Unconfirmed: no delta pickup, neither by the cron nor by hand.
        self.project.last_delta_at = fields.Datetime.now() - datetime.timedelta(hours=2)
        self.env['crm.migration.project']._cron_delta_pickup()
        self.assertFalse(self.project.run_ids.filtered(lambda r: r.kind == 'delta'))
        with self.assertRaises(UserError):
            self.project.action_run_delta()
        self.project.mapping_change_ids.action_reject()
        self.project.action_confirm_mapping()
        self.assertEqual(self.project.state, 'cutover', "back where it was")
        self.env['crm.migration.project']._cron_delta_pickup()
        delta = self.project.run_ids.filtered(lambda r: r.kind == 'delta')
        self.assertEqual(len(delta), 1)
        delta._execute()
        self.assertStat(delta, 'patients', created=1, updated=2, unchanged=4, failed=0)
        for name in ('practitioners', 'invoices', 'invoice_lines'):
            self.assertStat(delta, name, created=0, updated=0, failed=0)
        self.project.action_close_cutover()
        self.assertEqual(self.project.state, 'done')
        self.assertEqual(self.counts(), dict(counts, **{'crm.lead': counts['crm.lead'] + 1}))
        links = self.project.record_ids.filtered(lambda r: r.res_model == 'crm.lead' and r.object_id.name == 'patients')
        self.assertEqual(sorted(links.mapped('source_id')), ['C00%d' % i for i in range(1, 8)])
        self.assertEqual(len(set(links.mapped('res_id'))), 7, "one lead per client, no copies")

    def test_upload_waits_for_the_run(self):
        self.migrate()
        self.project._create_run('full')._schedule()
        with self.assertRaises(UserError):
            self._upload(self.project, export())
