# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The malformed-file campaign: every bad upload is refused in one sentence naming the
file (and the line), with nothing written, or read correctly; bad values fail their row only."""
import base64
import codecs
import hashlib
import io
import time
import zipfile

import openpyxl

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from .common import TARGET_MODELS, MigrationCaseMixin, fixture_bytes, make_csv

PATIENT_HEADER = ['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email', 'Phone', 'Notes']
NOTHING = 'Nothing was loaded from this upload'


def patients(*rows):
    return make_csv([PATIENT_HEADER] + [list(row) for row in rows])


def good_rows(count=3):
    return [('P%d' % i, 'First%d' % i, 'Last%d' % i, '23/02/1980', 'p%d@example.test' % i, '0411 000 00%d' % i, '')
            for i in range(1, count + 1)]


def make_zip(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zeros_zip(name, size):
    """A ZIP whose ``name`` inflates to ``size`` bytes of zeros, written in chunks (a zip bomb)."""
    buffer = io.BytesIO()
    chunk = b'0' * 2**20
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, 'w', force_zip64=True) as member:
            for _i in range(size // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


def make_xlsx(rows, title='Patients', merge=None):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rewrite_xlsx(data, change):
    """The workbook ``data`` with each member passed through ``change(name, content)``
    (None drops it); stored, not deflated, so that a test can damage the bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            content = change(info.filename, source.read(info))
            if content is not None:
                archive.writestr(info.filename, content)
    return buffer.getvalue()


def laughing_xlsx(depth=9):
    """A workbook whose one shared string is an entity nested ``depth`` times (10**depth copies):
    a few hundred bytes that would inflate to gigabytes in memory ("billion laughs")."""
    entities = '<!ENTITY lol0 "lollollollollollollollollollol">' + ''.join(
        '<!ENTITY lol%d "%s">' % (i, ('&lol%d;' % (i - 1)) * 10) for i in range(1, depth + 1))
    strings = ('<?xml version="1.0"?><!DOCTYPE sst [%s]><sst xmlns="http://schemas.openxmlformats.org/'
               'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol%d;</t></si></sst>' % (entities, depth))

    def change(name, content):
        if name == 'xl/worksheets/sheet1.xml':
            return content.replace(b'<c r="B2" t="inlineStr"><is><t>Ann</t></is></c>', b'<c r="B2" t="s"><v>0</v></c>')
        if name == '[Content_Types].xml':
            return content.replace(b'</Types>', b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                   b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        if name == 'xl/_rels/workbook.xml.rels':
            return content.replace(b'</Relationships>', b'<Relationship Type="http://schemas.openxmlformats.org/'
                                   b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" '
                                   b'Id="rId9"/></Relationships>')
        return content

    data = rewrite_xlsx(make_xlsx([['Patient ID', 'Name'], ['P1', 'Ann']]), change)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, 'a') as archive:
        archive.writestr('xl/sharedStrings.xml', strings)
    return buffer.getvalue()


def encrypt_flag(data, name):
    """Mark member ``name`` as encrypted (bit 0 of its flags, in both headers), as a password-protected ZIP has it."""
    data = bytearray(data)
    encoded = name.encode()
    for signature, flags_at, name_at in ((b'PK\x03\x04', 6, 30), (b'PK\x01\x02', 8, 46)):
        position = data.find(signature)
        while position >= 0:
            if data[position + name_at:position + name_at + len(encoded)] == encoded:
                data[position + flags_at] |= 0x1
            position = data.find(signature, position + 4)
    return bytes(data)


def flag_utf8_name(data, name, raw_name):
    """Rewrite a member's name to bytes that are not UTF-8 while the UTF-8 flag stays set."""
    if len(name.encode()) != len(raw_name):
        raise ValueError('the new name must have the same length')
    return data.replace(name.encode(), raw_name)


@tagged('crm_migration', 'post_install', '-at_install')
class TestBadFiles(MigrationCaseMixin, TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.project = cls.env['crm.migration.project'].create({
            'name': 'Bad files clinic', 'source_tz': 'Australia/Sydney'})

    def counts(self):
        counts = {model: self.env[model].with_context(active_test=False).search_count([]) for model in TARGET_MODELS}
        counts['links'] = self.env['crm.migration.record'].search_count([])
        return counts

    def assertRefused(self, files, message):
        """The upload fails with ``message`` (a regex) and leaves no record and no stored file behind."""
        before = self.counts()
        # Odoo's assertRaises (not assertRaisesRegex) rolls the savepoint back, as the UI's request would.
        with self.assertRaises(UserError) as caught:
            self.project._upload_export(files)
        self.assertRegex(str(caught.exception), message)
        self.assertNotIn('Traceback', str(caught.exception))
        self.assertEqual(len(str(caught.exception).splitlines()), 1, "one sentence")
        self.assertEqual(self.counts(), before, "nothing written for a refused file")
        return caught.exception

    def upload(self, files):
        wizard = self.project._upload_export(files)
        return wizard, {line.table_name: line for line in wizard.line_ids}

    # ------------------------------------------------------------------
    # Refused, with the file (and line) named
    # ------------------------------------------------------------------
    def test_empty_and_blank_files(self):
        self.assertRefused({'patients.csv': b''}, r'^patients\.csv is empty\. ' + NOTHING)
        self.assertRefused({'patients.csv': b'\r\n \n\n'}, r'patients\.csv is empty')

    def test_binary_named_csv(self):
        self.assertRefused({'patients.csv': bytes(range(256)) * 64}, r'patients\.csv is not a text file')

    def test_png_named_xlsx(self):
        png = fixture_bytes('registration.png')
        self.assertRefused({'billing.xlsx': png}, r'billing\.xlsx is not a valid XLSX/ZIP file')

    def test_zip_named_xlsx_without_workbook(self):
        self.assertRefused({'billing.xlsx': make_zip({'readme.txt': b'hello'})},
                           r'billing\.xlsx is not a readable XLSX workbook')

    def test_not_a_zip(self):
        self.assertRefused({'export.zip': b'PK but not really a zip'}, r'export\.zip is not a valid ZIP file')

    def test_single_line_of_two_megabytes(self):
        self.assertRefused({'patients.csv': b'Patient ID,Notes\n' + b'x' * (2 * 2**20) + b'\n'},
                           r'patients\.csv, line 2: longer than 1024 KiB')
        self.assertRefused({'patients.csv': b'a,' * 2**20}, r'patients\.csv, line 1: longer than')

    def test_huge_cell(self):
        content = make_csv([PATIENT_HEADER, ['P1', 'Ann', 'X', '', '', '', 'n' * (3 * 2**20)]])
        self.assertRefused({'patients.csv': content}, r'patients\.csv, line 2: longer than 1024 KiB')

    def test_twenty_thousand_columns(self):
        header = ['c%d' % i for i in range(20000)]
        self.assertRefused({'patients.csv': make_csv([header, ['1'] * 20000])},
                           r'patients\.csv, line 1: 20000 columns, more than the 1000')
        self.assertRefused({'billing.xlsx': make_xlsx([header[:1500], ['1'] * 1500])},
                           r'billing\.xlsx \[Patients\], line 1: 1500 columns')

    def test_unclosed_quote_merging_rows(self):
        content = (b'Patient ID,First Name,Last Name\n'
                   b'P1,"Ann,Smith\nP2,Bob,Jones\nP3,Cid,"Brown\nP4,Dee,White\n')
        self.assertRefused({'patients.csv': content},
                           r'patients\.csv, line 2: a quote opened on this line is not closed.*line 3')

    def test_unclosed_quote_to_end_of_file(self):
        content = b'Patient ID,First Name,Last Name\nP1,Ann,Smith\nP2,"Bob,Jones\nP3,Cid,Brown\n'
        self.assertRefused({'patients.csv': content}, r'patients\.csv, line 3: a quote opened')

    def test_xlsx_shared_strings_bomb(self):
        # 450 MiB of shared strings in a file of well under 1 MiB: refused from the ZIP directory.
        bomb = zeros_zip('xl/sharedStrings.xml', 450 * 2**20)
        self.assertLess(len(bomb), 2 * 2**20)
        self.assertRefused({'billing.xlsx': bomb}, r'billing\.xlsx: its shared strings inflate to 450 MiB')

    def test_zip_member_of_900_mib(self):
        bomb = zeros_zip('patients.csv', 900 * 2**20)
        self.assertRefused({'export.zip': bomb}, r'export\.zip is too large once unzipped')

    def test_zip_member_with_bad_crc(self):
        content = patients(*good_rows())
        data = make_zip({'patients.csv': content}, zipfile.ZIP_STORED)
        damaged = data.replace(b'First2', b'Firsu2')
        self.assertRefused({'export.zip': damaged}, r'export\.zip: patients\.csv is damaged \(Bad CRC-32')

    def test_utf32_without_bom(self):
        content = '\n'.join(['Patient ID,First Name', 'P1,Ann']).encode('utf-32-le')
        self.assertRefused(
            {'patients.csv': content}, r'^patients\.csv is not a text file \(CSV expected\)\. ' + NOTHING
        )

    def test_bom_or_separator_hint_only(self):
        self.assertRefused(
            {'patients.csv': codecs.BOM_UTF8 + b'\r\n'}, r'^patients\.csv has no header row\. ' + NOTHING
        )
        self.assertRefused({'patients.csv': b'sep=;\r\n'}, r'^patients\.csv has no header row')

    def test_quote_left_open_in_the_header(self):
        content = b'Patient ID,"First Name,Last Name\nP1,Ann,Smith\nP2,"Bob,Jones\nP3,Cid,Brown\n'
        self.assertRefused({'patients.csv': content},
                           r'^patients\.csv, line 1: a quote opened in the header is not closed')

    def test_quote_left_open_to_the_end_of_a_narrow_file(self):
        # Two columns: no continuation line looks like a whole row, the end of the file says it.
        content = b'Patient ID,Notes\nP1,Fine\nP2,"Allergic\nP3,Latex\nP4,None'
        self.assertRefused({'patients.csv': content},
                           r'^patients\.csv, line 3: a quote opened on this line is never closed')

    def test_one_column_too_many(self):
        header = ['c%d' % i for i in range(1001)]
        self.assertRefused({'patients.csv': make_csv([header, ['1'] * 1001])},
                           r'^patients\.csv, line 1: 1001 columns, more than the 1000')

    def test_xlsx_without_any_header(self):
        self.assertRefused(
            {'billing.xlsx': make_xlsx([])}, r'^billing\.xlsx has no sheet with a header row\. ' + NOTHING
        )

    def test_text_named_xlsx(self):
        self.assertRefused({'billing.xlsx': patients(*good_rows())}, r'^billing\.xlsx is not a valid XLSX/ZIP file')

    def test_xlsx_sheet_cut_short(self):
        def cut(name, content):
            return content[:len(content) // 2] if name == 'xl/worksheets/sheet1.xml' else content
        data = rewrite_xlsx(make_xlsx([PATIENT_HEADER] + good_rows()), cut)
        self.assertRefused({'billing.xlsx': data}, r'^billing\.xlsx \[Patients\], line 2: unreadable \(')

    def test_xlsx_sheet_with_bad_crc(self):
        data = rewrite_xlsx(make_xlsx([PATIENT_HEADER] + good_rows()), lambda _name, content: content)
        damaged = data.replace(b'First2', b'Firsu2')
        self.assertNotEqual(damaged, data)
        self.assertRefused(
            {'billing.xlsx': damaged},
            r'^billing\.xlsx is not a readable XLSX workbook \(Bad CRC-32 for file .xl/worksheets/sheet1',
        )

    def test_xlsx_shared_strings_entity_bomb(self):
        data = laughing_xlsx()
        self.assertLess(len(data), 20000)
        started = time.monotonic()
        self.assertRefused({'billing.xlsx': data},
                           r'^billing\.xlsx is not a readable XLSX workbook \(limit on input amplification')
        self.assertLess(time.monotonic() - started, 30, "refused before it inflates")

    def test_zip_of_too_many_files(self):
        members = {'notes/n%05d.txt' % i: b'' for i in range(20001)}
        members['patients.csv'] = patients(*good_rows())
        self.assertRefused({'export.zip': make_zip(members, zipfile.ZIP_STORED)},
                           r'^export\.zip holds 20002 files, more than the 20000')

    def test_zip_member_password_protected(self):
        data = encrypt_flag(make_zip({'patients.csv': patients(*good_rows()), 'docs/scan.pdf': b'%PDF-1.4'},
                                     zipfile.ZIP_STORED), 'patients.csv')
        self.assertRefused({'export.zip': data}, r'^export\.zip: patients\.csv is password-protected')

    def test_damaged_xlsx_inside_a_zip(self):
        workbook = make_xlsx([PATIENT_HEADER] + good_rows())
        data = make_zip({'export/billing.xlsx': workbook[:len(workbook) // 3]})
        self.assertRefused({'export.zip': data}, r'^billing\.xlsx is not a valid XLSX/ZIP file')

    def test_long_line_inside_a_zip(self):
        data = make_zip({'patients.csv': b'Patient ID,Notes\nP1,ok\n' + b'y' * (2 * 2**20) + b'\n'})
        self.assertRefused({'export.zip': data}, r'^patients\.csv, line 3: longer than 1024 KiB')

    def test_truncated_xlsx(self):
        data = make_xlsx([PATIENT_HEADER] + good_rows())
        self.assertRefused({'billing.xlsx': data[:len(data) // 2]}, r'billing\.xlsx is not a valid XLSX/ZIP file')

    # ------------------------------------------------------------------
    # Read correctly
    # ------------------------------------------------------------------
    def test_header_only(self):
        wizard, lines = self.upload({'patients.csv': patients()})
        self.assertEqual(lines['patients.csv'].row_count, 0)
        self.assertIn('patients.csv has a header but no rows.', wizard.warnings)

    def test_utf32_with_bom(self):
        text = '\n'.join(','.join(row) for row in [PATIENT_HEADER[:3], ['P1', 'José', 'García']])
        wizard, lines = self.upload({'patients.csv': text.encode('utf-32')})
        self.assertEqual((lines['patients.csv'].encoding, lines['patients.csv'].row_count), ('utf-32', 1))
        self.assertEqual(list(self.project._get_source().iter_rows('patients'))[0]['last_name'], 'García')

    def test_mixed_line_endings(self):
        content = b'Patient ID,First Name,Last Name\r\nP1,Ann,Smith\rP2,Bob,Jones\nP3,Cid,Brown\r\n'
        _wizard, lines = self.upload({'patients.csv': content})
        self.assertEqual(lines['patients.csv'].row_count, 3, "no row lost or merged")

    def test_quoted_multiline_notes_are_not_merges(self):
        content = patients(('P1', 'Ann', 'Smith', '', '', '', 'Allergic to latex.\nPrefers mornings, if possible.'),
                           *good_rows()[1:])
        _wizard, lines = self.upload({'patients.csv': content})
        self.assertEqual(lines['patients.csv'].row_count, 3)

    def test_nul_bytes_inside_content(self):
        # Beyond the sniffed start, a stray NUL is dropped rather than ending the row.
        rows = good_rows(6000) + [('P9999', 'Nu\x00ll', 'Byte', '', '', '', '')]
        _wizard, lines = self.upload({'patients.csv': patients(*rows)})
        self.assertEqual(lines['patients.csv'].row_count, 6001)
        last = list(self.project._get_source().iter_rows('patients'))[-1]
        self.assertEqual(last['first_name'], 'Null')

    def test_duplicated_and_blank_headers(self):
        content = make_csv([['Patient ID', 'First Name', '', 'First Name', 'Last Name'], ['P1', 'Ann', 'x', 'A.', 'S']])
        _wizard, lines = self.upload({'patients.csv': content})
        table = self.project._get_source().tables['patients']
        self.assertEqual([key for key, _label in table.headers()],
                         ['patient_id', 'first_name', 'column_3', 'first_name_2', 'last_name'])
        self.assertEqual(lines['patients.csv'].row_count, 1)

    def test_utf16_with_and_without_bom(self):
        text = '\n'.join('\t'.join(row) for row in [PATIENT_HEADER[:3], ['P1', 'José', 'García'], ['P2', 'Zoë', 'Ng']])
        for encoding, expected in (('utf-16', 'utf-16'), ('utf-16-le', 'utf-16-le'), ('utf-16-be', 'utf-16-be')):
            _wizard, lines = self.upload({'patients.csv': text.encode(encoding)})
            self.assertEqual((lines['patients.csv'].encoding, lines['patients.csv'].row_count), (expected, 2))
            rows = list(self.project._get_source().iter_rows('patients'))
            self.assertEqual(rows[0]['first_name'], 'José')

    def test_merged_cells_and_formulas_in_xlsx(self):
        data = make_xlsx([PATIENT_HEADER[:3], ['P1', 'Ann', 'Smith'], ['P2', 'Bob', '=1+1']], merge='B2:C2')
        _wizard, lines = self.upload({'patients.xlsx': data})
        self.assertEqual(lines['patients.xlsx [Patients]'].row_count, 2)
        rows = list(self.project._get_source().iter_rows('patients'))
        self.assertEqual((rows[0]['first_name'], rows[0]['last_name']), ('Ann', ''), "a merged cell is read once")
        # No cached result (never opened in Excel): the formula is not evaluated nor kept as text.
        self.assertEqual(rows[1]['last_name'], '')

    def test_file_names_with_nul_and_path_parts(self):
        content = patients(*good_rows())
        # PostgreSQL refuses a NUL in the upload widget's own record: NULs come inside ZIPs.
        self.upload({'..\\..\\etc/pat\x07ients.csv': content})
        self.assertEqual(self.project.file_ids.mapped('name'), ['patients.csv'])
        data = make_zip({'../practitionersX.csv.exe': fixture_bytes('practitioners.csv')})
        data = data.replace(b'practitionersX.csv', b'practitioners.csv\x00')
        _wizard, lines = self.upload({'export.zip': data})
        self.assertIn('practitioners.csv', lines)
        self.assertFalse([n for n in self.project.file_ids.mapped('name') if '/' in n or '\x00' in n or '..' in n])

    def test_zip_members_ignored_are_counted(self):
        data = make_zip({'export/': b'', '__MACOSX/export/._patients.csv': b'junk', '.DS_Store': b'junk',
                         'export/patients.csv': patients(*good_rows())})
        wizard, lines = self.upload({'export.zip': data})
        self.assertEqual(lines['patients.csv'].row_count, 3)
        self.assertIn('export.zip: 3 entries ignored', wizard.warnings)

    def test_wizard_uploads_do_not_stay_in_the_filestore(self):
        content = patients(*good_rows())
        self.upload({'patients.csv': content})
        self.upload({'patients.csv': content})
        copies = self.env['ir.attachment'].search([('checksum', '=', hashlib.sha1(content).hexdigest())])
        self.assertEqual(len(copies), 1, "one stored copy: the project's file")
        self.assertEqual(copies.res_model, 'crm.migration.project')

    # ------------------------------------------------------------------
    # Per-row failures: only the bad row fails, the rest lands
    # ------------------------------------------------------------------
    def _migrate(self, files):
        self.upload(files)
        self.project._check_ready()
        run = self.project._create_run('full')
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        return run

    def test_bad_values_fail_their_row_only(self):
        leads_before = self.env['crm.lead'].search_count([])
        rows = good_rows(3) + [
            ('P4', 'Imp', 'Date', '31/02/1985', 'p4@example.test', '', ''),
            ('P5', 'Html', 'Note', '23/02/1980', 'p5@example.test', '', '<script>alert(1)</script><b>bold</b>'),
            (
                'P6',
                'Formula',
                '=HYPERLINK("http://evil.test","x")',
                '23/02/1980',
                'p6@example.test',
                '+cmd',
                '@SUM(A1)',
            ),
        ]
        self._migrate({'patients.csv': patients(*rows), 'practitioners.csv': fixture_bytes('practitioners.csv')})
        failed = self.link('patients', 'P4')
        self.assertEqual(failed.operation, 'failed')
        self.assertIn('31/02/1985', failed.message)
        self.assertEqual(self.env['crm.lead'].search_count([]) - leads_before, 5, "every other patient landed")
        note = self.target('patients', 'P5').description
        self.assertNotIn('<script', note)
        self.assertIn('&lt;script&gt;', note)
        lead = self.target('patients', 'P6')
        self.assertIn('=HYPERLINK("http://evil.test","x")', '%s %s' % (lead.name, lead.contact_name))

    def test_overflowing_integer_and_odd_amounts(self):
        appointments = make_csv([
            ['Appointment ID', 'Patient ID', 'Practitioner ID', 'Appointment Type', 'Starts At', 'Duration Minutes',
             'Status', 'Notes'],
            ['A1', 'P1', 'PR1', 'Initial Consultation', '03/02/2025 09:30', '60', 'Completed', ''],
            ['A2', 'P1', 'PR1', 'Follow-up', '10/02/2025 14:00', '99999999999', 'Completed', ''],
            ['A3', 'P2', 'PR1', 'Follow-up', '11/02/2025 14:00', '1' * 400, 'Completed', ''],
            ['A4', 'P2', 'PR1', 'Follow-up', '12/02/2025 14:00', 'forty', 'Completed', ''],
            ['A5', 'P3', 'PR1', 'Follow-up', '13/02/2025 14:00', '45', 'Completed', ''],
        ])
        run = self._migrate({'patients.csv': patients(*good_rows()), 'appointments.csv': appointments,
                             'practitioners.csv': fixture_bytes('practitioners.csv')})
        self.assertStat(run, 'appointments', created=2, failed=3)
        self.assertIn('too large for a whole-number field', self.link('appointments', 'A2').message)
        self.assertIn('too large', self.link('appointments', 'A3').message)
        self.assertIn('forty', self.link('appointments', 'A4').message)

    def _billing(self, *lines):
        invoices = make_csv([['Invoice Number', 'Patient ID', 'Invoice Date', 'Status', 'Total Amount'],
                             ['INV-1', 'P1', '03/02/2025', 'Draft', '1.234,56 €'],
                             ['INV-2', 'P2', '04/02/2025', 'Draft', '(12.00)']])
        items = make_csv([['Line ID', 'Invoice Number', 'Service Code', 'Service Description', 'Quantity',
                           'Unit Amount']] + [list(line) for line in lines])
        return {'patients.csv': patients(*good_rows()), 'practitioners.csv': fixture_bytes('practitioners.csv'),
                'invoices.csv': invoices, 'invoice_lines.csv': items}

    def test_odd_amounts(self):
        """European grouping with a currency sign and accounting negatives land as numbers; a value the
        project's decimal separator cannot read fails its row instead of becoming 125."""
        self.env['product.product'].create({'name': 'Consultation', 'default_code': 'CONSULT', 'list_price': 90.0})
        files = self._billing(['L1', 'INV-1', 'CONSULT', 'Consultation', '1', '1.234,56 €'],
                              ['L2', 'INV-2', 'CONSULT', 'Refund', '1', '(12.00)'],
                              ['L3', 'INV-2', 'CONSULT', 'Fee', '2', '€ 1,234.50'])
        self._migrate(files)
        prices = {source_id: self.target('invoice_lines', source_id).price_unit for source_id in ('L1', 'L2', 'L3')}
        self.assertEqual(prices, {'L1': 1234.56, 'L2': -12.0, 'L3': 1234.5})
        self.project.decimal_separator = '.'
        files = self._billing(['L4', 'INV-1', 'CONSULT', 'Comma', '1', '12,5'])
        run = self._migrate(files)
        self.assertStat(run, 'invoice_lines', failed=1)
        failed = self.link('invoice_lines', 'L4')
        self.assertEqual(failed.operation, 'failed')
        self.assertIn("'12,5' does not read with '.' as decimal separator", failed.message)

    def test_formulas_stay_inert_in_the_diff_download(self):
        self.upload({'patients.csv': patients(*good_rows())})
        run = self.env['crm.migration.run'].create({'project_id': self.project.id, 'kind': 'sample'})
        values = ['=HYPERLINK("http://evil.test","x")', '+cmd|" /C calc"!A0', '@SUM(A1:A9)', '-2+3']
        obj = self.project.object_ids.filtered(lambda o: o.name == 'patients')
        self.env['crm.migration.diff'].create([{
            'run_id': run.id, 'object_id': obj.id, 'source_id': 'P%d' % i, 'res_model': 'crm.lead',
            'field_name': 'name', 'source_value': value, 'mapped_value': value, 'odoo_value': value, 'equal': True,
        } for i, value in enumerate(values)])
        self.env['crm.migration.diff'].create([{
            'run_id': run.id, 'object_id': obj.id, 'source_id': value, 'res_model': 'crm.lead', 'field_name': value,
            'field_label': value, 'source_value': 'x', 'mapped_value': value, 'odoo_value': value, 'equal': False,
            'reason': value} for value in values])
        workbook = openpyxl.load_workbook(io.BytesIO(self.downloaded(run.action_download_diff())))
        sheet = workbook.active
        cells = [row[5] for row in sheet.iter_rows(min_row=2, max_row=len(values) + 1)]
        self.assertEqual([cell.value for cell in cells], values)
        # Every cell the download writes from the source (ids, labels, values, reasons): text, never a formula.
        written = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value in values]
        self.assertGreaterEqual(len(written), len(values) * 7)
        self.assertEqual({cell.data_type for cell in written}, {'s'}, "strings, never formulas")

    # ------------------------------------------------------------------
    # Documents, file by file
    # ------------------------------------------------------------------
    def test_documents_file_by_file_byte_equal(self):
        pdf = fixture_bytes('consent_form.pdf')
        png = fixture_bytes('registration.png')
        corrupt_png = png[:40]  # a PNG cut short: Odoo's image processing cannot open it
        padded_png = png + b'\x00' * 10  # stored as uploaded, never re-encoded
        # Zipped as 'résumé.pdf' (flagged UTF-8), then renamed to bytes that are not UTF-8:
        # read as cp437, b'\x82' is 'é'.
        odd = 'r\u00e9\u00e9sum\u00e9\u00e9.pdf'
        documents = make_csv([
            ['Attachment ID', 'Patient ID', 'Practitioner ID', 'File Name', 'Description'],
            ['D1', 'P1', '', 'consent_form.pdf', 'Consent'],
            ['D2', 'P1', '', 'broken.png', 'Corrupt image'],
            ['D3', 'P2', '', odd, 'Odd name'],
            ['D4', 'P2', '', 'damaged.pdf', 'Bad CRC'],
            ['D5', 'P3', '', 'scan.png', 'Image'],
        ])
        data = make_zip({
            'patients.csv': patients(*good_rows()), 'practitioners.csv': fixture_bytes('practitioners.csv'),
            'attachments.csv': documents, 'docs/consent_form.pdf': pdf, 'docs/broken.png': corrupt_png,
            'docs/r\u00e9sum\u00e9.pdf': b'%PDF-1.4 odd', 'docs/damaged.pdf': b'%PDF-1.4 damaged content',
            'docs/scan.png': padded_png}, zipfile.ZIP_STORED)
        data = flag_utf8_name(data, 'r\u00e9sum\u00e9.pdf', b'r\x82\x82sum\x82\x82.pdf')
        data = data.replace(b'damaged content', b'damaged c0ntent')
        wizard = self.project._upload_export({'export.zip': data})
        self.assertIn('export.zip: damaged.pdf is damaged', wizard.warnings)
        self.assertIn(odd, self.project.file_ids.mapped('name'))
        self.project._check_ready()
        run = self.project._create_run('full')
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        failed = self.env['crm.migration.record'].search([('run_id', '=', run.id), ('operation', '=', 'failed')])
        self.assertEqual(failed.mapped('source_id'), ['D4'], failed.mapped('message'))
        self.assertStat(run, 'attachments', created=4, failed=1)
        self.assertIn('damaged.pdf', self.link('attachments', 'D4').message)
        expected = {'D1': pdf, 'D2': corrupt_png, 'D3': b'%PDF-1.4 odd', 'D5': padded_png}
        for source_id, content in expected.items():
            attachment = self.target('attachments', source_id)
            self.assertEqual(attachment.raw, content, source_id)
            self.assertEqual(attachment.checksum, hashlib.sha1(content).hexdigest())
        self.assertEqual(base64.b64decode(self.target('attachments', 'D5').datas), padded_png)
