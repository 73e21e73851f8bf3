# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bind an uploaded table to a source object: recognise which object a file
holds, pick the actual columns among the template's alternatives, and
propose a typed x_ field for every column the mapping does not use (the
seed's "source custom fields", typed from their values).
"""
from ..connectors import converters
from ..connectors.tabular import normalize_header
from .templates import PHONE_TRANSFORMS

PROFILE_ROWS = 200


def _patterns(text):
    return [p.strip() for p in (text or '').split(',') if p.strip()]


def score_object(obj, table_name, header_keys):
    """How well a table (by its name and header) fits a source object; <= 0 means no."""
    name = normalize_header(table_name)
    if any(p in name for p in _patterns(obj.exclude_patterns)):
        return 0
    score = 0.0
    if any(p in name for p in _patterns(obj.file_patterns)):
        score += 3
    keys = set(header_keys)
    if any(c in keys for c in obj._candidate_list()):
        score += 1
    groups = [group for line in obj.field_ids for group in (line.source_candidates or [])]
    if groups:
        score += 2 * sum(1 for group in groups if keys.intersection(group)) / len(groups)
    return score


def detect_object(project, table_name, header_keys, taken=()):
    """The best-fitting object of ``project`` for a table, or an empty recordset."""
    best, best_score = project.env['crm.migration.object'], 1.0
    for obj in project.object_ids:
        if obj in taken:
            continue
        score = score_object(obj, table_name, header_keys)
        if score > best_score:
            best, best_score = obj, score
    return best


def bind_table(obj, attachment, table, sheet=None):
    """Attach ``table`` to ``obj`` and adapt the mapping lines to its header."""
    headers = table.headers()
    keys = [key for key, _label in headers]
    sample = table.sample(PROFILE_ROWS)
    obj.write({
        'attachment_id': attachment.id,
        'sheet_name': sheet or False,
        'source_columns': [[key, label] for key, label in headers],
        'row_count': table.count(),
    })
    key = next((c for c in obj._candidate_list() if c in keys), None)
    if key or obj.source_key not in keys:
        obj.source_key = key or False
    env = obj.env
    for line in obj.field_ids:
        groups = line.source_candidates or [[s] for s in line._source_list()]
        if not groups:
            continue
        if line.transform in PHONE_TRANSFORMS:
            chosen = [c for group in groups for c in group if c in keys]
        else:
            chosen = [next(c for c in group if c in keys) for group in groups if set(group) & set(keys)]
        if chosen:
            line.write({'source_fields': ','.join(chosen), 'enabled': True, 'note': False})
        else:
            line.write({'enabled': False, 'note': env._(
                "No column of the file matches (%s)", ', '.join(g[0] for g in groups))})
    _propose_custom_fields(obj, headers, sample)
    _detect_date_order(obj.project_id, sample)
    return obj


def _propose_custom_fields(obj, headers, sample):
    used = {obj.source_key}
    for line in obj.field_ids.filtered('enabled'):
        used.update(line._source_list())
    target_fields = obj.env[obj.target_model]._fields if obj.target_model in obj.env else {}
    taken_targets = set(obj.field_ids.mapped('target_field'))
    day_first = obj.project_id._day_first()
    lines = []
    for key, label in headers:
        if key in used:
            continue
        values = [row.get(key) for row in sample]
        ttype, selection = converters.infer_type(values, day_first)
        name = ('x_' + key)[:63]
        existing = target_fields.get(name)
        if name in taken_targets or (existing and existing.type != ttype and not (
                ttype == 'selection' and existing.type == 'char')):
            name = ('x_src_' + key)[:63]
        if existing and existing.type == 'char' and ttype == 'selection':
            ttype, selection = 'char', []
        lines.append({
            'object_id': obj.id,
            'sequence': 1000 + len(lines),
            'source_fields': key,
            'target_field': name,
            'new_field_type': ttype,
            'new_field_label': label or key,
            'new_field_selection': '\n'.join(str(v) for v in selection) or False,
            'note': obj.env._("Source custom field, proposed as %(type)s from its values", type=ttype),
        })
        taken_targets.add(name)
    if lines:
        obj.env['crm.migration.field'].create(lines)


def _detect_date_order(project, sample):
    if project.date_order != 'auto' or project.detected_date_order:
        return
    # Only numeric dates such as 03/04/2024 are ambiguous; the first value with
    # a day above 12 tells the order of the whole export.
    values = [value for row in sample for key, value in row.items() if key != '_line_nr' and isinstance(value, str)]
    verdict = converters.detect_day_first(values)
    if verdict is not None:
        project.detected_date_order = 'dmy' if verdict else 'mdy'

