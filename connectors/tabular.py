# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Read clinic-software exports: CSV/TSV files and XLSX workbooks.

Real exports are messy: Excel writes UTF-8 with a BOM or cp1252, European
locales use ``;``, "Unicode text" is UTF-16 with tabs, some files start with
an Excel ``sep=;`` hint, and a single file may mix encodings when it was
concatenated from several exports.  Everything here streams: a table is
re-opened for every pass and rows are yielded one by one, so a file is never
held in memory as a whole.
"""
import codecs
import collections
import csv
import datetime
import io
import itertools
import os
import re
import unicodedata
import zipfile

from .exceptions import FileTooLargeError, SourceFormatError

CSV_EXTENSIONS = ('.csv', '.tsv', '.txt', '.tab')
# Encodings whose text holds NUL bytes and is decoded by the io layer, not line by line.
WIDE_ENCODINGS = ('utf-16', 'utf-32')
XLSX_EXTENSIONS = ('.xlsx', '.xlsm')
# Enough to see a header and a few dozen rows even with long note columns.
SNIFF_BYTES = 256 * 1024
DELIMITERS = (',', ';', '\t', '|')
# An XLSX is a zip: refuse archives that inflate past this (zip-bomb guard).
MAX_XLSX_UNCOMPRESSED = 512 * 1024 * 1024
# Default for csv is 128 KiB; clinic notes exported in one cell exceed it.
MAX_FIELD_BYTES = 16 * 1024 * 1024
csv.field_size_limit(MAX_FIELD_BYTES)
# A physical line longer than this is not an export row (a minified dump, a
# binary file): refused before the csv module and the sniffer chew on it.
MAX_LINE_BYTES = 1024 * 1024
# Unmapped columns become x_ fields on existing tables (crm_lead already has
# ~150 columns of PostgreSQL's 1,600): keep well below what is left.
MAX_COLUMNS = 1000
# sharedStrings.xml is parsed whole by openpyxl even in read-only mode.
MAX_SHARED_STRINGS = 128 * 1024 * 1024


class NoHeaderError(SourceFormatError):
    """A table without a header row: an empty sheet is not an object, an empty CSV is refused."""


def normalize_header(label):
    """Turn a column label into a stable key: ``"E-mail Address "`` -> ``e_mail_address``."""
    text = unicodedata.normalize('NFKD', str(label or '')).encode('ascii', 'ignore').decode()
    text = re.sub(r'[^0-9a-zA-Z]+', '_', text).strip('_').lower()
    return text


def normalize_headers(labels):
    """Normalise a header row; blank and repeated labels get unique keys."""
    keys, seen = [], set()
    for index, label in enumerate(labels, start=1):
        key = normalize_header(label) or 'column_%d' % index
        base, suffix = key, 2
        while key in seen:
            key = '%s_%d' % (base, suffix)
            suffix += 1
        seen.add(key)
        keys.append(key)
    return keys


def object_name_from_filename(filename, sheet=None):
    stem = os.path.splitext(os.path.basename(filename))[0]
    return normalize_header(sheet or stem) or 'table'


def detect_encoding(sample):
    """Return the codec for ``sample`` (the first bytes of a file)."""
    if sample.startswith(codecs.BOM_UTF8):
        return 'utf-8-sig'
    # Before UTF-16: the UTF-32 little-endian BOM starts with the UTF-16 one.
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return 'utf-32'
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return 'utf-16'
    unmarked = _utf16_without_bom(sample)
    if unmarked:
        return unmarked
    # Cut at the last newline so a multi-byte character split by the sample
    # boundary does not turn a UTF-8 file into cp1252.
    cut = sample.rfind(b'\n')
    head = sample[:cut + 1] if cut > 0 else sample
    for encoding in ('utf-8', 'cp1252'):
        try:
            head.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return 'latin-1'


def _utf16_without_bom(sample):
    """'utf-16-le'/'-be' for UTF-16 text without a BOM: mostly-Latin text then has a NUL
    in every other byte, on one side only."""
    head = sample[:4096]
    half = len(head) // 2
    if half < 4:
        return None
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if odd > half * 0.6 and even < half * 0.05:
        return 'utf-16-le'
    if even > half * 0.6 and odd < half * 0.05:
        return 'utf-16-be'
    return None


def _decode_line(raw, encoding):
    """Decode one line; a file concatenated from several exports can switch encodings.

    UTF-8 is tried first on every line because it validates itself: a
    cp1252 line with accents is practically never valid UTF-8, while a UTF-8
    line always "decodes" as cp1252 -- into mojibake.
    """
    for codec in ('utf-8', encoding, 'cp1252'):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode('latin-1')


def detect_delimiter(lines):
    """Pick the delimiter giving the most consistent multi-column table."""
    best, best_score = ',', None
    for delimiter in DELIMITERS:
        rows = [row for row in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in row)]
        if not rows:
            continue
        # The most common width, not the first row's: a title line above the
        # header is one cell wide whatever the delimiter.
        widths = collections.Counter(len(row) for row in rows)
        wide = {w: n for w, n in widths.items() if w > 1}
        width = max(wide, key=lambda w: (wide[w], w)) if wide else 1
        consistent = widths[width] / len(rows)
        score = (width > 1, round(consistent, 2), width)
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


class Table:
    """One source table: a CSV file or one XLSX sheet."""

    def __init__(self, name, label, opener):
        self.name = name
        self.label = label
        self._opener = opener
        self._headers = None
        self._header_index = None

    def _records(self):
        """Yield ``(line_nr, cells)`` for every non-blank record, header included."""
        raise NotImplementedError

    def _find_header(self):
        """The header is the first wide row: report exports put a title line or two above it."""
        window = list(itertools.islice(self._records(), 10))
        if not window:
            raise NoHeaderError('%s has no header row' % self.label)
        for line_nr, cells in window:
            if len(cells) > MAX_COLUMNS:
                raise SourceFormatError('%s, line %d: %d columns, more than the %d a table can take'
                                        % (self.label, line_nr, len(cells), MAX_COLUMNS))
        widths = [sum(1 for cell in cells if cell not in (None, '')) for _line, cells in window]
        # 80% of the usual width (the most common one, not the widest: a data row
        # with an unquoted delimiter is wider than the header).
        wide = collections.Counter(width for width in widths if width > 1)
        usual = max(wide, key=lambda w: (wide[w], w)) if wide else max(widths)
        wanted = max(2, -(-usual * 8 // 10))
        index = next((i for i, width in enumerate(widths) if width >= wanted), 0)
        labels = [str(cell).strip() if cell not in (None,) else '' for cell in window[index][1]]
        while labels and not labels[-1]:
            labels.pop()
        self._header_index = index
        self._headers = list(zip(normalize_headers(labels), labels, strict=True))

    def headers(self):
        """``[(key, label), ...]`` of the header row."""
        if self._headers is None:
            self._find_header()
        return self._headers

    def _data_records(self, offset):
        keys = [key for key, _label in self.headers()]
        records = self._records()
        for _skipped in range(self._header_index + 1):
            next(records, None)
        return keys, itertools.islice(records, offset, None)

    def iter_rows(self, offset=0):
        """Yield row dicts (``_line_nr`` = line in the file, 1-based), skipping ``offset`` rows."""
        raise NotImplementedError

    def count(self):
        return sum(1 for _row in self.iter_rows())

    def sample(self, size=200):
        rows = []
        for row in self.iter_rows():
            rows.append(row)
            if len(rows) >= size:
                break
        return rows


class CsvTable(Table):

    def __init__(self, name, label, opener, encoding=None, delimiter=None):
        super().__init__(name, label, opener)
        with opener() as handle:
            sample = handle.read(SNIFF_BYTES)
        if not sample.strip():
            raise SourceFormatError('%s is empty' % label)
        self.encoding = encoding or detect_encoding(sample)
        if b'\x00' in sample and not self.encoding.startswith(WIDE_ENCODINGS):
            raise SourceFormatError('%s is not a text file (CSV expected)' % label)
        # Classic Mac line ends: no \n at all, only \r.
        self._universal_newlines = b'\n' not in sample and b'\r' in sample
        lines = [line for line in self._text_lines(sample)][:60]
        if len(sample) == SNIFF_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last sampled line may be cut
        self._skip_lines = 0
        if lines and lines[0].lower().startswith('sep=') and len(lines[0].strip()) == 5:
            delimiter = delimiter or lines[0].strip()[4]
            self._skip_lines = 1
            lines = lines[1:]
        self.delimiter = delimiter or detect_delimiter(lines)

    def _text_lines(self, data):
        if self.encoding.startswith(WIDE_ENCODINGS) or self._universal_newlines:
            text = io.TextIOWrapper(io.BytesIO(data) if isinstance(data, bytes) else data,
                                    encoding=self.encoding, errors='replace', newline=None)
            yield from text
            return
        raw_lines = io.BytesIO(data) if isinstance(data, bytes) else data
        first = True
        line_nr = 0
        while True:
            # Bounded read: a 2 MB line without a newline is refused, not parsed.
            raw = raw_lines.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line_nr += 1
            if len(raw) > MAX_LINE_BYTES:
                raise SourceFormatError('%s, line %d: longer than %d KiB, not a CSV row'
                                        % (self.label, line_nr, MAX_LINE_BYTES // 1024))
            if first:
                first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
            text = _decode_line(raw, self.encoding).replace('\x00', '')
            if '\r' in text.rstrip('\r\n'):
                # Mixed line ends (an old Mac \r inside a \r\n file): each \r ends a line,
                # as csv's universal-newline mode would read it.
                yield from re.split(r'(?<=\r)(?!\n)', text)
            else:
                yield text

    def _records(self):
        """Yield ``(line_nr, cells)`` for every non-blank record, header included."""
        with self._opener() as handle:
            lines = self._text_lines(handle)
            for _i in range(self._skip_lines):
                next(lines, None)
            reader = csv.reader(lines, delimiter=self.delimiter)
            previous_end = self._skip_lines
            start = None
            try:
                for cells in reader:
                    start = previous_end + 1
                    previous_end = reader.line_num + self._skip_lines
                    if any(cell.strip() for cell in cells):
                        yield start, cells
            except csv.Error as error:
                raise SourceFormatError('%s, line %d: %s' % (self.label, previous_end + 1, error)) from error
        if start is not None and previous_end > start and self._quote_left_open(start):
            # The csv module ends a quote left open at the end of the file without a word:
            # the rest of the file became one value, and the table would be silently shorter.
            raise SourceFormatError('%s, line %d: a quote opened on this line is never closed (the rest of the '
                                    'file reads as its value); close the quote or remove it' % (self.label, start))

    def _quote_left_open(self, line_nr):
        """True when the record starting at physical line ``line_nr`` runs into the end of the file
        inside quotes (only the strict reader says so)."""
        with self._opener() as handle:
            lines = itertools.islice(self._text_lines(handle), line_nr - 1, None)
            try:
                for _cells in csv.reader(lines, delimiter=self.delimiter, strict=True):
                    pass
            except csv.Error as error:
                return 'unexpected end of data' in str(error)
        return False

    def _find_header(self):  # pylint: disable=missing-return  # Table's returns nothing
        super()._find_header()
        for _key, label in self._headers:
            if '\n' in label and any(self.delimiter in line for line in label.splitlines()[1:]):
                # The header's quote swallowed the rows below it: there would be no row left.
                raise SourceFormatError('%s, line %d: a quote opened in the header is not closed where the header '
                                        'ends; close the quote or remove it' % (self.label, self._header_line()))

    def _header_line(self):
        records = self._records()
        for _skipped in range(self._header_index):
            next(records, None)
        try:
            return next(records, (1, None))[0]
        except SourceFormatError:
            return self._header_index + 1

    def iter_rows(self, offset=0):
        keys, records = self._data_records(offset)
        for line_nr, cells in records:
            _check_merged(self.label, line_nr, keys, cells, self.delimiter)
            # Quoted multi-line values keep Windows line ends; Odoo stores \n.
            yield _make_row(keys, [cell.strip().replace('\r\n', '\n') for cell in cells], line_nr)


class XlsxTable(Table):

    def __init__(self, name, label, opener, sheet):
        super().__init__(name, label, opener)
        self.sheet = sheet

    def _records(self):
        with self._opener() as handle:
            workbook = _load_workbook(handle, self.label)
            try:
                sheet = workbook[self.sheet]
                line_nr = 0
                try:
                    for line_nr, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                        if len(values) > MAX_COLUMNS:
                            raise SourceFormatError('%s, line %d: %d columns, more than the %d a table can take'
                                                    % (self.label, line_nr, len(values), MAX_COLUMNS))
                        cells = [_xlsx_value(value) for value in values]
                        if any(cell not in (None, '') for cell in cells):
                            yield line_nr, cells
                except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError, SyntaxError) as error:
                    # SyntaxError: the sheet's XML is cut or damaged (xml.etree and lxml parse errors).
                    raise SourceFormatError(
                        '%s, line %d: unreadable (%s)' % (self.label, line_nr + 1, error)
                    ) from error
            finally:
                workbook.close()

    def iter_rows(self, offset=0):
        keys, records = self._data_records(offset)
        for line_nr, cells in records:
            while len(cells) > len(keys) and cells[-1] in (None, ''):
                cells.pop()
            yield _make_row(keys, cells, line_nr)


def _check_merged(label, line_nr, keys, cells, delimiter):
    """A quote left open swallows the next rows into one value: refuse it rather than
    load a shorter table (a quoted multi-line note never holds a whole row of delimiters)."""
    if len(keys) < 3:
        return
    for cell in cells:
        if '\n' not in cell and '\r' not in cell:
            continue
        for offset, line in enumerate(cell.splitlines()[1:], start=1):
            if line.count(delimiter) >= len(keys) - 1:
                raise SourceFormatError(
                    '%s, line %d: a quote opened on this line is not closed where the row ends '
                    '(line %d reads as part of its value); close the quote or remove it'
                    % (label, line_nr, line_nr + offset))


def _xlsx_value(value):
    if value is None:
        return ''
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        # Ids typed as numbers come back as 1001.0; keep them as 1001.
        return int(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time, int, float, bool)):
        return value
    return str(value)


def _make_row(keys, cells, line_nr):
    row = dict(zip(keys, cells, strict=False))  # a short row leaves the last columns out
    for key in keys[len(cells):]:
        row[key] = ''
    row['_line_nr'] = line_nr
    if len(cells) > len(keys):
        extra = [cell for cell in cells[len(keys):] if cell not in (None, '')]
        if extra:
            row['_errors'] = ['line %d has %d values but the header has %d columns '
                              '(an unquoted delimiter in a value?)' % (line_nr, len(cells), len(keys))]
    return row


def _load_workbook(handle, label):
    import openpyxl  # lazy: only XLSX uploads need it

    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except SourceFormatError:
        raise
    except Exception as error:  # noqa: BLE001 - openpyxl raises anything from KeyError to XML errors
        raise SourceFormatError('%s is not a readable XLSX workbook (%s)' % (label, error)) from error


def check_zip_size(opener, label, limit=MAX_XLSX_UNCOMPRESSED):
    """Refuse an XLSX by its directory alone: nothing is inflated here."""
    with opener() as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
            raise SourceFormatError('%s is not a valid XLSX/ZIP file' % label) from error
    total = sum(info.file_size for info in infos)
    if total > limit:
        raise FileTooLargeError('%s inflates to %d MiB, over the %d MiB limit'
                                % (label, total // 2**20, limit // 2**20))
    strings = sum(info.file_size for info in infos if info.filename.lower().endswith('sharedstrings.xml'))
    if strings > MAX_SHARED_STRINGS:
        raise FileTooLargeError('%s: its shared strings inflate to %d MiB, over the %d MiB limit'
                                % (label, strings // 2**20, MAX_SHARED_STRINGS // 2**20))


def open_tables(filename, opener):
    """Return the tables in one uploaded file (one per CSV, one per non-empty XLSX sheet).

    ``opener`` returns a new binary file object each time it is called.
    """
    lower = filename.lower()
    if lower.endswith(XLSX_EXTENSIONS):
        check_zip_size(opener, filename)
        with opener() as handle:
            workbook = _load_workbook(handle, filename)
            sheets = workbook.sheetnames
            workbook.close()
        tables = []
        for sheet in sheets:
            table = XlsxTable(object_name_from_filename(filename, sheet), '%s [%s]' % (filename, sheet),
                              opener, sheet)
            try:
                table.headers()
            except NoHeaderError:
                continue  # an empty sheet is not an object
            tables.append(table)
        if not tables:
            raise NoHeaderError('%s has no sheet with a header row' % filename)
        return tables
    if lower.endswith(CSV_EXTENSIONS):
        return [CsvTable(object_name_from_filename(filename), filename, opener)]
    return []


def is_tabular(filename):
    return filename.lower().endswith(CSV_EXTENSIONS + XLSX_EXTENSIONS)


class TabularSource:
    """The source of a file-based project: named tables plus loose documents.

    ``tables`` maps an object name to a :class:`Table`; ``documents`` maps a
    file name to an opener for attachments referenced from a table.
    """

    def __init__(self, tables, documents=None):
        self.tables = dict(tables)
        self.documents = dict(documents or {})

    def objects(self):
        return [(name, table.label, table.headers()) for name, table in self.tables.items()]

    def iter_rows(self, name, since=None, offset=0):
        # ``since`` is an API notion; a file is compared row by row by checksum.
        table = self.tables.get(name)
        if table is None:
            raise SourceFormatError('no file was uploaded for %s' % name)
        return table.iter_rows(offset=offset)

    def count(self, name):
        return self.tables[name].count()

    def download(self, ref):
        key = os.path.basename(str(ref or '').replace('\\', '/'))
        opener = self.documents.get(key) or self.documents.get(key.lower())
        if opener is None:
            raise SourceFormatError('file %r is not among the uploaded files' % key)
        with opener() as handle:
            return handle.read()
