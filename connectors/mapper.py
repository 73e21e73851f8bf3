# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Source row -> target values, from the confirmed mapping.

The mapper never talks to Odoo: a value that needs the database (the Odoo id
of a patient migrated earlier, a user by e-mail, a stage by name, a file's
bytes) is returned as a *reference* object that the loader resolves for a
whole batch at once.
"""
import dataclasses
import datetime
import html

from . import converters

TRANSFORMS = (
    'direct', 'concat', 'value_map', 'first_phone', 'other_phones',
    'email', 'lookup', 'user', 'file', 'product', 'is_set', 'is_empty', 'absolute',
)


@dataclasses.dataclass(frozen=True)
class LookupRef:
    """The record created for ``source_id`` of source object ``object``."""
    object: str
    source_id: str


@dataclasses.dataclass(frozen=True)
class NameRef:
    """A record of ``relation`` by XML id or exact name (a stage, a tag, an activity type)."""
    relation: str
    name: str


@dataclasses.dataclass(frozen=True)
class UserRef:
    """A user by e-mail or login."""
    login: str


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A document of the source (file name in an upload, id of an API download)."""
    ref: str


@dataclasses.dataclass(frozen=True)
class ProductRef:
    """A product by internal reference or name; unmatched lines fall back."""
    name: str


REFS = (LookupRef, NameRef, UserRef, FileRef, ProductRef)


@dataclasses.dataclass(frozen=True)
class Problem:
    field: str
    message: str
    blocking: bool = True
    retry: bool = False  # a link not found yet (an owner, an optional record): try again next run
    # The source value that does not fit the line's type (a date column holding "soon"), as text;
    # None for every other problem.  The audit lists these rows per line.
    value: str = None


class TypeMismatch(ValueError):
    """A value the line's type cannot hold; ``value`` is the source text."""

    def __init__(self, message, value):
        super().__init__(message)
        self.value = value


@dataclasses.dataclass
class FieldSpec:
    """One mapping line as the mapper needs it (built from ``crm.migration.field``)."""
    target: str
    ttype: str
    sources: tuple
    transform: str = 'direct'
    separator: str = ' '
    value_map: dict = None
    default: str = None
    required: bool = False
    lookup_object: str = None
    selection: tuple = ()
    relation: str = None
    label: str = None
    size: int = None
    # Lookups: the cells together are one id of an object identified by several columns.
    key_separator: str = None

    def __post_init__(self):
        if self.value_map:
            self.value_map = {normalize_key(k): v for k, v in self.value_map.items()}


def normalize_key(value):
    return ' '.join(str(value if value is not None else '').split()).casefold()


def value_to_text(value):
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d %H:%M:%S')
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return '' if value is None else str(value)


class Mapper:

    def __init__(self, specs, day_first=None, tz='UTC', decimal_comma=None):
        self.specs = list(specs)
        self.day_first = day_first
        self.tz = tz or 'UTC'
        self.decimal_comma = decimal_comma

    def map_row(self, row):
        """Return ``(values, problems)``; a value of ``None`` means "empty in the source"."""
        values, problems, reported = {}, [], set()
        for message in row.get('_errors') or ():
            problems.append(Problem('', message))
        for spec in self.specs:
            try:
                value, warning = self._map_field(spec, row)
            except ValueError as error:
                # One bad source value feeding several targets (a status
                # mapped to stage, active and lost reason) is reported once.
                if (spec.sources, str(error)) not in reported:
                    reported.add((spec.sources, str(error)))
                    problems.append(Problem(spec.target, '%s: %s' % (spec.label or spec.target, error),
                                            value=getattr(error, 'value', None)))
                continue
            if warning:
                problems.append(Problem(spec.target, '%s: %s' % (spec.label or spec.target, warning), False))
            # Several lines may feed one target (e.g. two possible owner
            # columns): an empty value never hides one already mapped.
            if value is None and values.get(spec.target) is not None:
                continue
            values[spec.target] = value
        return values, problems

    # ------------------------------------------------------------------
    def _raw(self, spec, row):
        cells = [row.get(source) for source in spec.sources]
        if spec.transform == 'duration':
            return self._minutes_between(cells)
        if spec.key_separator:
            parts = [value_to_text(c).strip() for c in cells]
            return spec.key_separator.join(parts) if all(parts) else None
        if spec.transform == 'concat':
            parts = [value_to_text(c).strip() for c in cells if not converters.is_empty(c)]
            return spec.separator.join(parts) if parts else None
        if spec.transform in ('first_phone', 'other_phones'):
            phones = converters.split_phones(cells)
            if spec.transform == 'first_phone':
                return phones[0] if phones else None
            return ', '.join(phones[1:]) or None
        for cell in cells:
            if not converters.is_empty(cell):
                return cell.strip() if isinstance(cell, str) else cell
        return None

    def _minutes_between(self, cells):
        """Minutes from the first column's date-time to the second's (an appointment's length).

        Negative when the row ends before it starts: a contradiction the loader and the
        audit decide for the whole row (services/contradictions), not a reason to lose it.
        """
        if len(cells) < 2 or any(converters.is_empty(cell) for cell in cells[:2]):
            return None
        start, end = (converters.parse_datetime(cell, self.day_first, self.tz) for cell in cells[:2])
        return round((end - start).total_seconds() / 60.0, 2)

    def _map_field(self, spec, row):
        warning = None
        value = self._raw(spec, row)
        if spec.transform in ('is_set', 'is_empty'):
            # "archived_at has a date" -> archived; never empty, never a default.
            return converters.is_empty(value) == (spec.transform == 'is_empty'), None
        if spec.value_map is not None and (spec.transform == 'value_map' or spec.value_map):
            key = normalize_key(value_to_text(value))
            if key in spec.value_map:
                value = spec.value_map[key]
            elif value is not None:
                if spec.default in (None, ''):
                    raise ValueError('no mapping for %r (add it to the value map)' % value_to_text(value))
                warning = 'no mapping for %r, used the default %r' % (value_to_text(value), spec.default)
                value = spec.default
        if converters.is_empty(value):
            if spec.default not in (None, ''):
                value = spec.default
            elif spec.required:
                raise ValueError('required, but empty in the source')
            else:
                return None, warning
        if spec.size and spec.ttype in ('char', 'text', 'html'):
            # Cut the text itself: for HTML, before it is escaped and wrapped.
            text = value_to_text(value)
            if len(text) > spec.size:
                warning = 'truncated from %d to %d characters' % (len(text), spec.size)
                value = text[:spec.size]
        try:
            return self._coerce(spec, value), warning
        except TypeMismatch:
            raise
        except ValueError as error:
            if spec.transform == 'lookup' or spec.ttype == 'many2one_reference':
                raise  # a reference or a configuration problem, not a value of the wrong type
            raise TypeMismatch(str(error), value_to_text(value)) from None

    def _coerce(self, spec, value):
        """The value in the type of the line's target: by the line's transform first, else by the target type."""
        transform = spec.transform
        if transform == 'email':
            value = converters.clean_email(value)
        elif transform in ('lookup', 'user', 'file', 'product', 'absolute'):
            return self._coerce_reference(spec, value)
        return self._coerce_to_type(spec, value)

    def _coerce_reference(self, spec, value):
        """Transforms whose value Odoo resolves later (lookups, users, files, products), and signed amounts."""
        transform, ttype = spec.transform, spec.ttype
        if transform == 'lookup':
            # APIs list several ids in one column ("700; 701", a bill of two matters):
            # a many2many links them all, a many2one the first.
            ids = [part.strip() for part in value_to_text(value).split(';') if part.strip()]
            if not ids:
                raise ValueError('%r holds no id' % value_to_text(value))
            if ttype == 'many2many':
                return [LookupRef(spec.lookup_object, source_id) for source_id in ids]
            return LookupRef(spec.lookup_object, ids[0])
        if transform == 'user':
            return UserRef(value_to_text(value).strip())
        if transform == 'file':
            return FileRef(value_to_text(value))
        if transform == 'product':
            return ProductRef(value_to_text(value).strip())
        # 'absolute': a signed ledger amount, whose direction is mapped from another column.
        return abs(converters.parse_number(value, self.decimal_comma))

    def _coerce_to_type(self, spec, value):
        ttype = spec.ttype
        if ttype in ('char', 'text'):
            return value_to_text(value)
        if ttype == 'html':
            return '<p>%s</p>' % html.escape(value_to_text(value)).replace('\n', '<br/>')
        if ttype == 'integer':
            return converters.parse_integer(value)
        if ttype in ('float', 'monetary'):
            return converters.parse_number(value, self.decimal_comma)
        if ttype == 'boolean':
            return converters.parse_bool(value)
        if ttype == 'date':
            return converters.parse_date(value, self.day_first)
        if ttype == 'datetime':
            return converters.parse_datetime(value, self.day_first, self.tz)
        if ttype == 'selection':
            return self._selection(spec, value)
        if ttype == 'many2one':
            return NameRef(spec.relation, value_to_text(value))
        if ttype == 'many2many':
            names = [part.strip() for part in value_to_text(value).replace(';', ',').split(',')]
            return [NameRef(spec.relation, name) for name in names if name]
        if ttype == 'many2one_reference':
            raise ValueError('needs a lookup to another source object')
        return value

    def _selection(self, spec, value):
        text = value_to_text(value)
        keys = [key for key, _label in spec.selection]
        if not keys:
            return text
        wanted = normalize_key(text)
        # Labels before keys: with numbered keys ("< 10k" 10k, "10k" 10k_2) the value "10k"
        # is the option labelled "10k", not the one whose key happens to read "10k".
        for key, label in spec.selection:
            if wanted == normalize_key(label):
                return key
        if text in keys:
            return text
        for key, _label in spec.selection:
            if wanted == normalize_key(key):
                return key
        raise ValueError('%r is not one of %s' % (text, ', '.join(keys)))
