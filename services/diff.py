# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Read written records back and compare them, field by field, with the source.

For each mapped field: the source value, the value the mapping produced, the
value Odoo holds now, equal or not and why (truncated, rounded, stored as
something else).  A mismatch means the value differs: a many2one is compared
by id, a selection by key, HTML by its text, a number at the field's
precision, a date-time as stored (UTC) and shown in the source's timezone.
Sample runs store every line; other runs store their mismatches only.
"""
import base64
import hashlib

import pytz

from odoo.tools import float_compare, float_round, html2plaintext

from ..connectors import mapper as mapping
from ..connectors.converters import is_empty
from .constants import ACTIVITY_PREFIX

COMPARED = ('char', 'text', 'html', 'integer', 'float', 'monetary', 'boolean', 'date', 'datetime',
            'selection', 'many2one', 'many2many', 'many2one_reference', 'binary')


def compare_entries(loader, entries):
    """Return ``(diff values, mismatches)`` for the created/updated ``entries``.

    A sample keeps every line for review; a full or delta run keeps only its
    mismatches, so that a run of 100,000 rows stays cheap and still says which
    records to look at.
    """
    keep_all = loader.run.kind == 'sample'
    model = loader.Model.with_context(active_test=False)
    specs = [spec for spec in loader.mapper.specs if not spec.target.startswith(ACTIVITY_PREFIX)]
    written = [e for e in entries if e.outcome in ('created', 'updated') and e.res_id]
    if not written:
        return [], 0
    records = model.browse([e.res_id for e in written])
    # Read what the database holds, not what this transaction's cache remembers writing,
    # in one query for the batch rather than field by field.
    records.invalidate_recordset()
    compared = [spec.target for spec in specs
                if spec.target in model._fields and model._fields[spec.target].type in COMPARED]
    records.fetch(list(dict.fromkeys(compared)))
    records = {r.id: r for r in records}
    diffs, mismatches = [], 0
    for entry in written:
        record = records[entry.res_id]
        for spec in specs:
            field = model._fields.get(spec.target)
            if spec.target not in entry.values or not field or field.type not in COMPARED:
                continue
            source_text = ' '.join(mapping.value_to_text(entry.row.get(s)) for s in spec.sources
                                   if not is_empty(entry.row.get(s)))
            mapped = entry.values[spec.target]
            # A full run only keeps what differs: names of linked records are read for those.
            equal, reason, mapped_text, odoo_text = compare(
                field, spec, source_text, mapped, record, loader.project.source_tz, describe=keep_all)
            if not equal and not keep_all:
                equal, reason, mapped_text, odoo_text = compare(
                    field, spec, source_text, mapped, record, loader.project.source_tz)
            if not equal:
                mismatches += 1
            if keep_all or not equal:
                diffs.append({
                    'run_id': loader.run.id, 'object_id': loader.obj.id, 'source_id': entry.source_id,
                    'res_model': model._name, 'res_id': record.id, 'field_name': spec.target,
                    'field_label': field.string, 'source_value': source_text, 'mapped_value': mapped_text,
                    'odoo_value': odoo_text, 'equal': equal, 'reason': reason or False,
                })
    return diffs, mismatches


def compare(field, spec, source_text, mapped, record, source_tz, describe=True):
    """``(equal, reason, mapped text, Odoo text)`` for one field of one record.

    Without ``describe``, linked records are compared by id only and their names left out.
    """
    value = record[field.name]
    kind = field.type
    if kind == 'many2one':
        mapped_id = mapped or False
        equal = (value.id or False) == mapped_id
        if not describe:
            return equal, None, '', ''
        target = record.env[field.comodel_name].browse(mapped_id) if mapped_id else None
        return equal, None, target.display_name if target else '', value.display_name or ''
    if kind == 'many2many':
        ids = set(mapped[0][2]) if mapped else set()
        if not describe:
            return set(value.ids) == ids, None, '', ''
        names = ', '.join(record.env[field.comodel_name].browse(sorted(ids)).mapped('display_name'))
        return set(value.ids) == ids, None, names, ', '.join(value.mapped('display_name'))
    if kind == 'selection':
        labels = dict(field._description_selection(record.env))
        return value == mapped, None, labels.get(mapped, mapped or ''), labels.get(value, value or '')
    if kind == 'binary':
        # A document is compared by a checksum of its bytes, never shown.
        mapped_sum, stored_sum = _checksum(mapped), _checksum(value)
        equal = mapped_sum == stored_sum
        return equal, None if equal else 'content differs', 'sha1 %s' % mapped_sum, 'sha1 %s' % stored_sum
    if kind in ('float', 'monetary'):
        if kind == 'monetary':
            currency = record[field.get_currency_field(record)] if field.get_currency_field(record) else None
            precision = currency.decimal_places if currency else 2
        else:
            digits = field.get_digits(record.env)
            precision = digits[1] if digits else 6
        mapped_number, stored = float(mapped or 0.0), float(value or 0.0)
        texts = mapping.value_to_text(mapped), mapping.value_to_text(value)
        # Equal as numbers (binary floats aside): a monetary field keeps every
        # decimal even if it shows two, so that is not a difference.
        if abs(mapped_number - stored) <= 1e-9 * max(1.0, abs(mapped_number)):
            return (True, None) + texts
        if float_compare(float_round(mapped_number, precision_digits=precision), stored,
                         precision_digits=precision) == 0:
            return (False, 'rounded to %d decimals' % precision) + texts
        return (False, 'stored as %s' % texts[1]) + texts
    if kind in ('html', 'text') and (kind == 'html' or _is_html(mapped)):
        # Odoo sanitizes and re-serializes HTML (<br/> -> <br>): the text is what was migrated.
        mapped_text, odoo_text = _html_text(mapped), _html_text(value)
        return mapped_text == odoo_text, None if mapped_text == odoo_text else 'stored as %s' % odoo_text, \
            mapped_text, odoo_text
    if kind == 'datetime':
        # Both sides are naive UTC, as stored: the viewer's timezone changes how a
        # value is shown, never the value.  Shown as the source's wall clock.
        equal = (value or False) == (mapped or False)
        mapped_text, odoo_text = _local(mapped, source_tz), _local(value, source_tz)
        return equal, None if equal else 'stored as %s' % odoo_text, mapped_text, odoo_text
    odoo_text = mapping.value_to_text(value if value is not False or kind == 'boolean' else '')
    mapped_text = mapping.value_to_text(mapped)
    if kind in ('char', 'text') and spec.transform == 'direct' and len(source_text) > len(odoo_text) \
            and odoo_text and source_text.startswith(odoo_text):
        return False, 'truncated from %d to %d characters' % (len(source_text), len(odoo_text)), mapped_text, odoo_text
    equal = value == mapped or (mapped in (None, '') and value in (False, ''))
    return equal, None if equal else 'stored as %s' % odoo_text, mapped_text, odoo_text


def _checksum(value):
    return hashlib.sha1(base64.b64decode(value or b'')).hexdigest()


def _is_html(value):
    return isinstance(value, str) and value.lstrip().startswith('<')


def _html_text(value):
    return ' '.join(html2plaintext(value or '').split()) if value else ''


def _local(moment, tz):
    """A stored (UTC) date-time as the source's wall clock, naming the timezone."""
    if not moment:
        return ''
    local = pytz.utc.localize(moment).astimezone(pytz.timezone(tz or 'UTC'))
    return '%s (%s)' % (local.strftime('%Y-%m-%d %H:%M:%S'), tz or 'UTC')
