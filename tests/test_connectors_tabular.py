# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The tabular connector on its own: no database, no Odoo model."""
import codecs
import io
import zipfile

import openpyxl

from odoo.tests import BaseCase, tagged

from ..connectors import tabular
from ..connectors.exceptions import FileTooLargeError, SourceFormatError


def opener(content):
    return lambda: io.BytesIO(content)


def table(content, name='t.csv'):
    tables = tabular.open_tables(name, opener(content))
    return tables[0] if tables else None


@tagged('crm_migration')
class TestTabular(BaseCase):

    def test_header_normalisation(self):
        self.assertEqual(tabular.normalize_headers(['E-mail Address ', 'Prénom', '', 'Prénom', 'DOB']),
                         ['e_mail_address', 'prenom', 'column_3', 'prenom_2', 'dob'])

    def test_utf8_bom_semicolon(self):
        t = table(codecs.BOM_UTF8 + 'Id;Name\r\n1;Müller\r\n2;"A; B"\r\n'.encode())
        self.assertEqual((t.encoding, t.delimiter), ('utf-8-sig', ';'))
        self.assertEqual(t.headers(), [('id', 'Id'), ('name', 'Name')])
        rows = list(t.iter_rows())
        self.assertEqual([r['name'] for r in rows], ['Müller', 'A; B'])
        self.assertEqual([r['_line_nr'] for r in rows], [2, 3])

    def test_cp1252_and_mixed_encodings(self):
        content = 'id,name\n1,Renée\n'.encode('cp1252') + '2,Zoë\n'.encode()
        t = table(content)
        self.assertEqual(t.encoding, 'cp1252')
        self.assertEqual([r['name'] for r in t.iter_rows()], ['Renée', 'Zoë'],
                         "a line in another encoding is decoded on its own")

    def test_tab_utf16_excel_unicode_text(self):
        content = 'id\tname\r\n1\tŁukasz\r\n'.encode('utf-16')
        t = table(content, 't.txt')
        self.assertEqual(t.delimiter, '\t')
        self.assertEqual(list(t.iter_rows())[0]['name'], 'Łukasz')

    def test_excel_sep_hint_and_mac_line_ends(self):
        t = table(b'sep=;\nid;amount\n1;1,50\n')
        self.assertEqual(t.delimiter, ';')
        self.assertEqual(list(t.iter_rows()), [{'id': '1', 'amount': '1,50', '_line_nr': 3}])
        mac = table(b'id,name\r1,Ann\r2,Bob\r')
        self.assertEqual([r['name'] for r in mac.iter_rows()], ['Ann', 'Bob'])

    def test_quoted_newlines_line_numbers_and_offset(self):
        t = table(b'id,note\n1,"two\r\nlines"\n\n2,x\n3,y\n')
        rows = list(t.iter_rows())
        self.assertEqual(rows[0]['note'], 'two\nlines')
        self.assertEqual([r['_line_nr'] for r in rows], [2, 5, 6], "blank line skipped, numbers kept")
        self.assertEqual([r['id'] for r in t.iter_rows(offset=2)], ['3'])
        self.assertEqual(t.count(), 3)

    def test_row_with_too_many_values_is_flagged(self):
        rows = list(table(b'id,name\n1,Ann\n2,Smith, Bob\n3\n').iter_rows())
        self.assertNotIn('_errors', rows[0])
        self.assertIn('3 values but the header has 2', rows[1]['_errors'][0])
        self.assertEqual(rows[2], {'id': '3', 'name': '', '_line_nr': 4}, "short rows are padded")

    def test_not_a_table(self):
        with self.assertRaises(SourceFormatError):
            table(b'')
        with self.assertRaises(SourceFormatError):
            table(b'\x89PNG\r\n\x1a\n\x00\x00\x00')
        self.assertEqual(tabular.open_tables('scan.pdf', opener(b'%PDF')), [])

    def test_xlsx_sheets_streamed_read_only(self):
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = 'Patients'
        sheet.append(['ID', 'Name', 'Visits', 'Formula'])
        sheet.append([1001, 'Ann', 2.0, '=1+1'])
        sheet.append([None, None, None, None])
        sheet.append([1002, 'Bob', 3.5, None])
        workbook.create_sheet('Empty')
        buffer = io.BytesIO()
        workbook.save(buffer)
        tables = tabular.open_tables('export.xlsx', opener(buffer.getvalue()))
        self.assertEqual([t.name for t in tables], ['patients'])
        rows = list(tables[0].iter_rows())
        self.assertEqual(rows[0]['id'], 1001, "an integral number is not 1001.0")
        # Read-only, data-only: a formula is never evaluated; only the value
        # Excel cached is read (none here, openpyxl wrote the file).
        self.assertEqual(rows[0]['formula'], '')
        self.assertEqual(rows[1]['visits'], 3.5)
        self.assertEqual([r['_line_nr'] for r in rows], [2, 4])

    def test_xlsx_zip_bomb_guard(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            archive.writestr('xl/big.xml', b'0' * (2 * 1024 * 1024))
        with self.assertRaises(FileTooLargeError):
            tabular.check_zip_size(opener(buffer.getvalue()), 'bomb.xlsx', limit=1024 * 1024)

    def test_source_documents(self):
        source = tabular.TabularSource({}, {'scan.pdf': opener(b'%PDF-1.4')})
        self.assertEqual(source.download('C:\\exports\\scan.pdf'), b'%PDF-1.4')
        with self.assertRaises(SourceFormatError):
            source.download('other.pdf')

    def test_title_rows_above_the_header(self):
        content = (b'Patient list - printed 03/03/2025\r\n\r\nClinic: Harbour Physio\r\n'
                   b'ID,First Name,Last Name,DOB\r\nP1,Ann,Lee,01/02/1990\r\nP2,Bo,Chen,\r\n')
        t = table(content)
        self.assertEqual([k for k, _l in t.headers()], ['id', 'first_name', 'last_name', 'dob'])
        rows = list(t.iter_rows())
        self.assertEqual([(r['id'], r['_line_nr']) for r in rows], [('P1', 5), ('P2', 6)])
        self.assertEqual([r['id'] for r in t.iter_rows(offset=1)], ['P2'])
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(['Appointments report'])
        sheet.append([])
        sheet.append(['ID', 'Patient', 'Start'])
        sheet.append(['A1', 'P1', '2025-02-03 09:30'])
        buffer = io.BytesIO()
        workbook.save(buffer)
        xlsx = tabular.open_tables('report.xlsx', opener(buffer.getvalue()))[0]
        self.assertEqual([k for k, _l in xlsx.headers()], ['id', 'patient', 'start'])
        self.assertEqual(list(xlsx.iter_rows()), [{'id': 'A1', 'patient': 'P1', 'start': '2025-02-03 09:30',
                                                    '_line_nr': 4}])
