# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The proposal over real export dialects (tests/fixtures/dialects, see make_corpus.py).

The score is computed by bench/proposal_accuracy.py with the addon's own proposal code; the
upload tests run the same dialects through the upload wizard and the audit.
"""
import importlib.util
import json
import os
import re

from odoo.tests import BaseCase, tagged
from odoo.tools import file_open, file_path

from ..connectors import proposal
from .common import CrmMigrationCommon

ROOT = os.path.dirname(file_path('crm_migration/__manifest__.py'))
TARGET = 95.0
CLINIC_OBJECTS = {'patients', 'practitioners', 'appointments', 'invoices', 'invoice_lines', 'attachments'}


def accuracy_module():
    spec = importlib.util.spec_from_file_location('proposal_accuracy', os.path.join(ROOT, 'bench',
                                                                                    'proposal_accuracy.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dialect_files(name):
    folder = os.path.join(ROOT, 'tests', 'fixtures', 'dialects', name)
    expected = json.load(open(os.path.join(folder, 'expected.json'), encoding='utf-8'))
    files = {}
    for file_name in expected['tables']:
        with file_open(os.path.join(folder, file_name), 'rb') as handle:
            files[file_name] = handle.read()
    return files


@tagged('crm_migration')
class TestProposalScore(BaseCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bench = accuracy_module()
        with open(os.path.join(ROOT, 'bench', 'target_fields.json'), encoding='utf-8') as handle:
            cls.target_fields = json.load(handle)

    def test_corpus_is_six_products_with_cited_pages_and_every_table(self):
        folders = [f for f in self.bench.dialect_folders() if os.sep + 'dialects' + os.sep in f]
        self.assertGreaterEqual(len(folders), 6)
        for folder in folders:
            with open(os.path.join(folder, 'README.md'), encoding='utf-8') as handle:
                self.assertRegex(handle.read(), r'https://\S+ -- \S', folder)
            expected = self.bench.load(os.path.join(folder, 'expected.json'))
            self.assertEqual({t['object'] for t in expected['tables'].values()}, CLINIC_OBJECTS, folder)

    def test_score_stays_at_target(self):
        right = total = 0
        for folder in self.bench.dialect_folders():
            r, t, _proposed = self.bench.score(folder, self.target_fields, out=open(os.devnull, 'w'))
            self.assertGreaterEqual(100.0 * r / t, 90.0, "%s: %d / %d" % (folder, r, t))
            right, total = right + r, total + t
        self.assertGreaterEqual(100.0 * right / total, TARGET, "%d / %d columns right" % (right, total))

    def test_every_proposed_field_name_is_valid_and_unique(self):
        for folder in self.bench.dialect_folders():
            _expected, proposed = self.bench.propose_dialect(folder, self.target_fields)
            for file_name, table in proposed.items():
                names = [n for n in table['names'].values() if n.startswith('x_')]
                self.assertEqual(len(names), len(set(names)), file_name)
                for name in names:
                    self.assertRegex(name, r'^x_[a-z0-9]+(_[a-z0-9]+)*$')
                    self.assertLessEqual(len(name), 63)

    def test_new_field_names_from_any_header(self):
        taken = set()
        for header in ('Ünïcode — ' + 'very long header ' * 8, 'Ünïcode — ' + 'very long header ' * 9, '日本語',
                       '###', '  Total ($)  ', 'PatientID', '2024 total', 'Total ($)'):
            name = proposal.new_field_name(header, proposal.normalize_header(header), taken)
            self.assertTrue(re.fullmatch(r'x_[a-z0-9]+(_[a-z0-9]+)*', name) and len(name) <= 63, name)
            self.assertNotIn(name, taken)
            taken.add(name)
        self.assertIn('x_patient_id', taken)
        self.assertIn('x_total_2', taken, "a second 'Total ($)' gets its own name")

    def test_id_column_by_name_and_uniqueness_not_position(self):
        sample = [{'licence_number': 'L%d' % n, 'claim_number': 'C%d' % n, 'practitioner_id': str(n),
                   'invoice': str(1000 + n), 'patient_id': str(n % 2)} for n in range(4)]
        own = proposal.own_words('practitioners')
        self.assertEqual(proposal.guess_key_columns(['licence_number', 'practitioner_id'], sample, own=own),
                         ['practitioner_id'])
        own = proposal.own_words('invoices')
        self.assertEqual(proposal.guess_key_columns(
            ['claim_number', 'patient_id', 'invoice'], sample, {'invoice': 'Invoice #'}, own, foreign={'patient'}),
            ['invoice'])
        # Another table's id is never the rows' id, even unique in the sample.
        self.assertEqual(proposal.guess_key_columns(
            ['practitioner_id'], sample, own=proposal.own_words('appointments'), foreign={'practitioner'}), [])

    def test_column_of_another_tables_ids_is_a_lookup(self):
        ids_of = {'practitioners': {'S01', 'S02', 'S03'}, 'patients': {'1', '2', '3'}}
        found = proposal.propose('provided_by', 'Provided By', ['S01', 'S02', 'S01'], 'sale.order',
                                 self.target_fields['sale.order'], ids_of=ids_of)
        self.assertEqual((found.transform, found.lookup_object, found.new_type), ('lookup', 'practitioners',
                                                                                 'many2one'))
        # Small integers could be anything's: without a name that says so, no lookup.
        found = proposal.propose('visits', 'Visits', ['1', '2', '3'], 'sale.order', self.target_fields['sale.order'],
                                 ids_of=ids_of)
        self.assertNotEqual(found.transform, 'lookup')


@tagged('crm_migration', 'post_install', '-at_install')
class TestDialectUpload(CrmMigrationCommon):
    """A Zanda export through the upload wizard: what the review screen then shows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zanda = cls.env['crm.migration.project'].create({'name': 'Zanda clinic', 'source_tz': 'Australia/Sydney'})
        cls._upload(cls.zanda, dialect_files('zanda'))

    def lines(self, object_name, project=None):
        obj = (project or self.zanda).object_ids.filtered(lambda o: o.name == object_name)
        return obj.field_ids

    def test_upload_binds_lookups_splits_durations_and_composite_ids(self):
        appointments = self.lines('appointments')
        practitioner = appointments.filtered(lambda f: f.target_field == 'x_practitioner_id')
        self.assertEqual((practitioner.source_fields, practitioner.enabled), ('practitioner', True))
        duration = appointments.filtered(lambda f: f.target_field == 'x_appointment_duration')
        self.assertEqual(duration.source_fields, 'duration_mins')
        phones = self.lines('patients').filtered(lambda f: f.transform in ('first_phone', 'other_phones'))
        self.assertEqual(set(phones.mapped('source_fields')), {'phones'})
        provided = self.lines('invoices').filtered(lambda f: f.source_fields == 'provided_by')
        self.assertEqual((provided.transform, provided.lookup_object_id.name, provided.new_field_type,
                          provided.new_field_relation), ('lookup', 'practitioners', 'many2one', 'res.partner'))
        items = self.zanda.object_ids.filtered(lambda o: o.name == 'invoice_lines')
        self.assertEqual(items.source_key, 'invoice_no,line')
        line_id = items.field_ids.filtered(lambda f: f.target_field == 'x_source_line_id')
        self.assertEqual((line_id.source_fields, line_id.transform, line_id.separator, line_id.enabled),
                         ('invoice_no,line', 'concat', '|', True))
        order = items.field_ids.filtered(lambda f: f.target_field == 'order_id')
        self.assertEqual(order.source_fields, 'invoice_no')

    def test_required_line_without_its_column_is_a_blocking_issue_asking_for_it(self):
        project = self.env['crm.migration.project'].create({'name': 'No start column'})
        files = dialect_files('zanda')
        files['Appointments.csv'] = files['Appointments.csv'].replace(b',Start,End,', b',Slot,Finish,', 1)
        self._upload(project, files)
        date_line = self.lines('appointments', project).filtered(lambda f: f.target_field == 'x_appointment_date')
        self.assertFalse(date_line.enabled)
        project.action_confirm_mapping()
        project.action_audit()
        issue = project.issue_ids.filtered(lambda i: i.kind == 'missing_column' and i.source_id == 'x_appointment_date')
        self.assertEqual((len(issue), issue.blocking, issue.state), (1, True, 'open'))
        self.assertIn('Appointments.csv', issue.message)
        self.assertIn('starts_at', issue.message)
        self.assertEqual(issue.action_open_mapping_line()['res_id'], date_line.id)
        self.assertTrue(project.blocking_issue_count)
        # The consultant picks the column: the next audit asks no more.
        date_line.write({'source_fields': 'slot', 'enabled': True})
        project.action_confirm_mapping()
        project.action_audit()
        self.assertFalse(project.issue_ids.filtered(lambda i: i.kind == 'missing_column'
                                                     and i.source_id == 'x_appointment_date'))

    def test_mapping_screen_shows_samples_labels_and_value_counts(self):
        status = self.lines('appointments').filtered(lambda f: f.target_field == 'stage_id')
        self.assertEqual(status.source_label, 'Status')
        self.assertEqual(status.sample_values, 'Arrived · Booked · Cancelled')
        email = self.lines('patients').filtered(lambda f: f.target_field == 'email_from')
        self.assertEqual(email.target_field_id.name, 'email_from')
        self.assertEqual(email.target_field_id.with_context(hide_model=True).display_name,
                         email.target_field_id.field_description, "the dropdown shows labels")
        # The consultant picks a field by its label: the line feeds it.
        referral = self.lines('patients').filtered(lambda f: f.source_fields == 'referral_source')
        self.assertTrue(referral.is_new_field)
        referral.target_field_id = self.env['ir.model.fields']._get('crm.lead', 'referred')
        self.assertEqual((referral.target_field, referral.is_new_field), ('referred', False))
        # The value map opens with each value of the file and its rows.
        status.value_map_ids.filtered(lambda v: v.source_value == 'booked').unlink()
        before = {v.source_value: v.target_value for v in status.value_map_ids}
        action = status.action_open_value_map()
        editor = self.env[action['res_model']].browse(action['res_id'])
        counts = {line.source_value: line.row_count for line in editor.line_ids if line.row_count}
        self.assertEqual(counts, {'Arrived': 3, 'Booked': 3, 'Cancelled': 3, 'Did Not Arrive': 3})
        editor.line_ids.filtered(lambda line: line.source_value == 'Booked').target_value = 'New'
        editor.action_apply()
        self.assertEqual({v.source_value: v.target_value for v in status.value_map_ids}, dict(before, Booked='New'),
                         "the new value added, every other entry (empty targets too) as it was")

    def test_upload_proposes_what_the_score_counts(self):
        """The score's figures are the upload's: every dialect bound by the wizard gives, column by
        column, the targets bench/proposal_accuracy.py found (so the score measures the real screen)."""
        bench = accuracy_module()
        with open(os.path.join(ROOT, 'bench', 'target_fields.json'), encoding='utf-8') as handle:
            target_fields = json.load(handle)
        for folder in bench.dialect_folders():
            if os.sep + 'dialects' + os.sep not in folder:
                continue
            name = os.path.basename(folder)
            _expected, proposed = bench.propose_dialect(folder, target_fields)
            project = self.env['crm.migration.project'].create({'name': name})
            self._upload(project, dialect_files(name))
            for file_name, table in proposed.items():
                obj = project.object_ids.filtered(lambda o, f=file_name: o.attachment_id.name == f)
                self.assertEqual(obj.name, table['object'], file_name)
                self.assertEqual(obj._key_columns(), table['key'], file_name)
                got = {label: set() for label in table['columns']}
                labels = dict(obj.source_columns)
                for line in obj.field_ids.filtered(lambda f: f.enabled and f.source_fields):
                    if line.source_candidates:
                        answer = line.target_field
                    elif line.transform == 'lookup':
                        answer = 'lookup:%s' % line.lookup_object_id.name
                    else:
                        answer = 'new' if line.is_new_field else line.target_field
                    for column in line._source_list():
                        got[labels[column]].add(answer)
                self.assertEqual(got, table['columns'], '%s / %s' % (name, file_name))
