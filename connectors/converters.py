# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Strict value converters: they return a Python value or raise ``ValueError``
with a message an administrator can act on.  Nothing is guessed silently
(unlike a converter that turns garbage into 0.0): the mapper reports the
error on the row instead.
"""
import datetime
import re

import pytz

EXCEL_EPOCH = datetime.datetime(1899, 12, 30)
TRUE_VALUES = {'1', 'true', 't', 'yes', 'y', 'x', 'on', 'checked', 'oui', 'ja', 'si', 'sí'}
FALSE_VALUES = {'0', 'false', 'f', 'no', 'n', 'off', 'unchecked', '', 'non', 'nein'}
MONTHS = {name: index for index, names in enumerate((
    (), ('jan', 'january'), ('feb', 'february'), ('mar', 'march'), ('apr', 'april'),
    ('may',), ('jun', 'june'), ('jul', 'july'), ('aug', 'august'),
    ('sep', 'sept', 'september'), ('oct', 'october'), ('nov', 'november'), ('dec', 'december'),
)) for name in names}

_ISO_RE = re.compile(r'^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ](.*))?$')
_NUMERIC_RE = re.compile(r'^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})(?:[T ,]+(.*))?$')
_TEXT_MONTH_RE = re.compile(
    r'^(?:(\d{1,2})[ -]([a-zA-Z]{3,9})\.?,?[ -](\d{4})|([a-zA-Z]{3,9})\.? (\d{1,2}),? (\d{4}))(?:[T ,]+(.*))?$')
_TIME_RE = re.compile(r'^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?\s*([aApP]\.?[mM]\.?)?\s*'
                      r'(Z|[+-]\d{2}:?\d{2})?$')
EMAIL_RE = re.compile(r'^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$')
PHONE_SPLIT_RE = re.compile(r'\s*(?:;|\||\n|/(?=\s*\+?\d)|,(?=\s*\+?\(?\d)| or )\s*')


def is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _year(text):
    year = int(text)
    if len(text) == 2:
        # Birth dates exported with 2-digit years: 30 -> 1930, 24 -> 2024.
        year += 2000 if year <= datetime.date.today().year % 100 else 1900
    return year


def _split_date_time(value, day_first):
    """Return ``(date, time_text_or_None)`` for a textual date."""
    text = value.strip()
    match = _ISO_RE.match(text)
    if match:
        year, month, day, rest = match.groups()
        return _checked_date(int(year), int(month), int(day), value), rest
    match = _NUMERIC_RE.match(text)
    if match:
        first, second, year, rest = match.groups()
        first, second = int(first), int(second)
        if day_first is None:
            if first > 12 >= second:
                day_first = True
            elif second > 12 >= first:
                day_first = False
            elif first == second:
                day_first = True
            else:
                raise ValueError('ambiguous date %r: set the date order (day/month or month/day) '
                                 'on the migration project' % value)
        day, month = (first, second) if day_first else (second, first)
        return _checked_date(_year(year), month, day, value), rest
    match = _TEXT_MONTH_RE.match(text)
    if match:
        day1, month1, year1, month2, day2, year2, rest = match.groups()
        month_name = (month1 or month2).lower()
        if month_name not in MONTHS:
            raise ValueError('unknown month in date %r' % value)
        return _checked_date(int(year1 or year2), MONTHS[month_name], int(day1 or day2), value), rest
    if re.match(r'^\d{5}(\.\d+)?$', text):
        # An Excel serial number that lost its cell format in a CSV export.
        serial = float(text)
        if 20000 <= serial <= 80000:
            moment = EXCEL_EPOCH + datetime.timedelta(days=serial)
            return moment.date(), moment.strftime('%H:%M:%S') if serial % 1 else None
    raise ValueError('%r is not a date' % value)


def _checked_date(year, month, day, original):
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError('%r is not a valid date' % original) from None


def _parse_time(text, original):
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError('%r has an unreadable time' % original)
    hour, minute, second, fraction, meridiem, offset = match.groups()
    hour, minute, second = int(hour), int(minute), int(second or 0)
    if meridiem:
        meridiem = meridiem.lower().replace('.', '')
        if hour > 12:
            raise ValueError('%r mixes a 24-hour time with AM/PM' % original)
        hour = hour % 12 + (12 if meridiem == 'pm' else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError('%r has an invalid time' % original)
    micro = int((fraction or '0').ljust(6, '0')[:6])
    tz_offset = None
    if offset:
        if offset == 'Z':
            tz_offset = datetime.timedelta(0)
        else:
            sign = -1 if offset[0] == '-' else 1
            digits = offset[1:].replace(':', '')
            tz_offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return datetime.time(hour, minute, second, micro), tz_offset


def parse_date(value, day_first=None):
    """Parse a date; ``day_first`` None means "decide per value or refuse if ambiguous"."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    date, _rest = _split_date_time(str(value), day_first)
    return date


def parse_datetime(value, day_first=None, tz='UTC'):
    """Parse a date-time and return it as a naive UTC datetime (Odoo's storage).

    Values without an offset are wall-clock times of the source's timezone
    ``tz``; values with ``Z``/``+hh:mm`` are converted from that offset.
    """
    zone = pytz.timezone(tz or 'UTC')
    if isinstance(value, datetime.datetime):
        moment, offset = value.replace(tzinfo=None), value.utcoffset()
    elif isinstance(value, datetime.date):
        moment, offset = datetime.datetime.combine(value, datetime.time()), None
    else:
        date, rest = _split_date_time(str(value), day_first)
        if rest and rest.strip():
            clock, offset = _parse_time(rest, value)
        else:
            clock, offset = datetime.time(), None
        moment = datetime.datetime.combine(date, clock)
    if offset is not None:
        return moment - offset
    try:
        local = zone.localize(moment, is_dst=None)
    except (pytz.AmbiguousTimeError, pytz.NonExistentTimeError):
        # A wall-clock time in the DST switch hour: take standard time.
        local = zone.localize(moment, is_dst=False)
    return local.astimezone(pytz.utc).replace(tzinfo=None)


def parse_number(value, decimal_comma=None):
    """Parse ``1,234.50``, ``1.234,50``, ``(12.50)``, ``$ 12``, ``12 345,6`` and the like."""
    if isinstance(value, bool):
        raise ValueError('%r is not a number' % value)
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip().replace('\u00a0', ' ').replace('\u202f', ' ')
    negative = False
    if text.startswith('(') and text.endswith(')'):
        negative, text = True, text[1:-1]
    text = re.sub(r'^[^\d\-+.,]+|[^\d.,]+$', '', text.strip())  # currency symbols/codes
    if text.startswith('-'):
        negative, text = not negative, text[1:]
    elif text.startswith('+'):
        text = text[1:]
    text = text.replace(' ', '').replace("'", '')
    if not re.match(r'^[\d.,]+$', text or 'x'):
        raise ValueError('%r is not a number' % value)
    if ',' in text and '.' in text:
        decimal = ',' if text.rfind(',') > text.rfind('.') else '.'
    elif ',' in text:
        if decimal_comma is None:
            # "1,234" (a thousands group) vs "12,50" (a decimal comma).
            decimal = '.' if re.match(r'^\d{1,3}(,\d{3})+$', text) else ','
        else:
            decimal = ',' if decimal_comma else '.'
    else:
        decimal = '.'
        if text.count('.') > 1 or decimal_comma:
            decimal = ','  # 1.234.567, or a comma-decimal source: the dots group thousands
    thousands = ',' if decimal == '.' else '.'
    integer = text.split(decimal)[0]
    if thousands in integer and not re.match(r'^\d{1,3}(%s\d{3})+$' % re.escape(thousands), integer):
        # "12,5" read with a decimal point, "(12.00)" with a decimal comma: not a thousands
        # group, so the separator setting does not fit this value; never read it as 125 or 1200.
        raise ValueError('%r does not read with %r as decimal separator' % (value, decimal))
    text = text.replace(thousands, '').replace(decimal, '.')
    if text.count('.') > 1 or text in ('', '.'):
        raise ValueError('%r is not a number' % value)
    number = float(text)
    if number == float('inf'):
        raise ValueError('%r is too large a number' % value)
    return -number if negative else number


# Odoo stores integer fields as PostgreSQL int4: a larger value would fail the whole batch.
MAX_INTEGER = 2**31 - 1


def parse_integer(value):
    number = parse_number(value)
    if float(number) != int(number):
        raise ValueError('%r is not a whole number' % value)
    if abs(int(number)) > MAX_INTEGER:
        raise ValueError('%r is too large for a whole-number field (at most %d)' % (value, MAX_INTEGER))
    return int(number)


def parse_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise ValueError('%r is not yes/no' % value)


def clean_email(value):
    """Return the e-mail, trimmed; raise when it is not one."""
    text = str(value).strip().strip('<>').strip()
    if text.lower().startswith('mailto:'):
        text = text[7:]
    if not EMAIL_RE.match(text):
        raise ValueError('%r is not an e-mail address' % value)
    return text


def split_phones(values):
    """All phone numbers found in ``values`` (cells that may hold several numbers)."""
    phones = []
    for value in values:
        if is_empty(value):
            continue
        for part in PHONE_SPLIT_RE.split(str(value)):
            part = part.strip()
            if part and part not in phones:
                phones.append(part)
    return phones


def looks_like_date(value):
    """A numeric date such as 03/04/2024 or 2024-04-03 (so not a phone number)."""
    text = str(value).strip()
    return bool(_ISO_RE.match(text) or _NUMERIC_RE.match(text))


def looks_like_email(value):
    return bool(EMAIL_RE.match(str(value).strip()))


def infer_type(values, day_first=None):
    """Guess an Odoo field type from sample values, for a source custom field.

    Returns ``(ttype, selection_values)``: text -> char (text when long or
    multi-line), dates -> date or datetime, yes/no -> boolean, numbers ->
    integer/float, a small set of repeated values (a dropdown) -> selection.
    """
    samples = [str(v).strip() if not isinstance(v, (datetime.date, int, float)) else v
               for v in values if not is_empty(v)]
    if not samples:
        return 'char', []
    if all(isinstance(v, (datetime.date, datetime.datetime)) for v in samples):
        has_time = any(isinstance(v, datetime.datetime) and v.time() != datetime.time() for v in samples)
        return ('datetime' if has_time else 'date'), []
    texts = [str(v) for v in samples]
    if day_first is None:
        day_first = detect_day_first(texts)

    def all_parse(parser):
        try:
            for text in texts:
                parser(text)
            return True
        except ValueError:
            return False

    if all(re.match(r'^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}', t) or _TEXT_MONTH_RE.match(t) for t in texts):
        if all_parse(lambda text: _split_date_time(text, day_first)):
            has_time = any((_split_date_time(text, day_first)[1] or '').strip() for text in texts)
            return ('datetime' if has_time else 'date'), []
    lowered = {text.lower() for text in texts}
    if lowered <= (TRUE_VALUES | FALSE_VALUES) - {''} and len(lowered) <= 2:
        return 'boolean', []
    # Leading zeros (codes, postcodes) and long digit strings (phones, ids) stay text.
    if not any(re.match(r'^0\d', t) or len(re.sub(r'\D', '', t)) > 12 for t in texts):
        if all(re.match(r'^-?\d+$', t) for t in texts):
            return 'integer', []
        if all(re.match(r'^-?[\d,]*\.\d+$', t) for t in texts):
            return 'float', []
    distinct = list(dict.fromkeys(texts))
    if len(distinct) <= 12 and len(texts) >= 2 * len(distinct) and all(len(t) <= 60 for t in distinct):
        return 'selection', distinct
    if any(len(t) > 255 or '\n' in t for t in texts):
        return 'text', []
    return 'char', []


def detect_day_first(values):
    """True/False when the values show the date order (a part > 12), else None."""
    verdict = None
    for value in values:
        if not isinstance(value, str):
            continue
        match = _NUMERIC_RE.match(value.strip())
        if not match or ('.' in value and len(value.strip().split('.')[2].split()[0]) != 4):
            continue  # "10.30.00" is a time or a code, not a date
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            if verdict is False:
                return None  # contradictory column
            verdict = True
        elif second > 12 >= first:
            if verdict is True:
                return None
            verdict = False
    return verdict
