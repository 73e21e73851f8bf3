# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bind an uploaded table to a source object: recognise which object a file
holds, find each mapping line's columns (template alternatives, then
synonyms), and propose a target for every other column -- an existing field
by synonym, name or similarity, else a new x_ field typed from its values.
Every line says why it was proposed and how sure the proposal is; nothing
loads until a person confirms the mapping on the project.
"""
from odoo.models import MAGIC_COLUMNS

from ..connectors import converters, proposal
from ..connectors.tabular import normalize_header
from .constants import DEFINITION_MODEL, like_exact
from .templates import PHONE_TRANSFORMS

PROFILE_ROWS = 200
# Fields a proposal never targets: technical, computed without inverse, chatter.
SKIPPED_PREFIXES = ('message_', 'activity_', 'website_message', 'rating_', '__')


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
        if obj in taken or obj.source_object:
            continue
        score = score_object(obj, table_name, header_keys)
        if score > best_score:
            best, best_score = obj, score
    return best


def importable_fields(env, model):
    """``{name: {'string', 'type'}}`` of the fields of ``model`` a column may feed."""
    if model not in env:
        return {}
    result = {}
    for name, field in env[model]._fields.items():
        if name in MAGIC_COLUMNS or name.startswith(SKIPPED_PREFIXES) or field.type in ('one2many', 'binary'):
            continue
        if not field.store or (field.compute and not field.inverse and field.readonly):
            continue
        result[name] = {'string': field.string, 'type': field.type}
    return result


def is_reviewed(obj):
    """True once a person confirmed a mapping this object was bound for: a new upload keeps it."""
    # API sources: a sample only shows the fields its rows fill, so "a column gone" means nothing there.
    project = obj.project_id
    return bool(obj.source_columns and project.mapping_confirmed_date and project._is_file_source())


def bind_table(obj, attachment, table, sheet=None):
    """Attach ``table`` to ``obj`` and adapt the mapping lines to its header.

    A reviewed object keeps its mapping as it is (id columns, re-pointed and
    disabled lines, value maps, defaults): what the new header calls for is
    proposed as ``crm.migration.mapping.change`` rows instead.
    """
    headers = table.headers()
    keys = [key for key, _label in headers]
    labels = dict(headers)
    sample = table.sample(PROFILE_ROWS)
    reviewed, previous = is_reviewed(obj), obj._header_keys()
    obj.write({
        'attachment_id': attachment.id if attachment else False,
        'sheet_name': sheet or False,
        'source_columns': [[key, label] for key, label in headers],
        'row_count': table.count(),
    })
    _detect_date_order(obj.project_id, sample)
    if reviewed:
        propose_changes(obj, headers, sample, previous)
        return
    key = next((c for c in obj._candidate_list() if c in keys), None)
    key = key or ','.join(proposal.guess_key_columns(keys, sample))
    if obj.source_key != (key or False):
        obj.source_key = key or False
    used = set(obj._key_columns())
    concepts = {c: proposal.concept_of(labels[c]) or proposal.concept_of(c) for c in keys}
    # Pass 1 claims every column a template line lists, pass 2 lets lines
    # still missing a column find one by synonym among the unclaimed.
    plans = {line: _template_columns(line, keys) for line in obj.field_ids}
    for chosen in plans.values():
        used.update(c for group in chosen for c in group)
    for line, chosen in plans.items():
        _bind_line(line, chosen, labels, concepts, used)
    # Deletions only carry ids, definitions are read into other objects' lines, and the columns of
    # a table read by several objects are proposed to the object that owns it: nothing to propose.
    if not (obj.deletes_object_id or obj.source_object) and obj.target_model != DEFINITION_MODEL:
        lines = _proposed_lines(obj, headers, sample, used)
        if lines:
            obj.env['crm.migration.field'].create(lines)


def propose_changes(obj, headers, sample, previous):
    """List what a new header of a reviewed object calls for; the mapping itself stays.

    Open proposals are recomputed against the current mapping; decided ones
    are kept, so a rejected new column is not proposed again.
    """
    env = obj.env
    Change = env['crm.migration.mapping.change']
    keys = [key for key, _label in headers]
    labels = dict(headers)
    changes = Change.search([('object_id', '=', obj.id)])
    decided = {(c.kind, c.column) for c in changes if c.state != 'open'}
    changes.filtered(lambda c: c.state == 'open').unlink()
    proposals = []
    missing_key = [c for c in obj._key_columns() if c not in keys]
    if missing_key and ('missing_key', ','.join(missing_key)) not in decided:
        new_key = ','.join(proposal.guess_key_columns(keys, sample))
        proposals.append({
            'object_id': obj.id, 'kind': 'missing_key', 'column': ','.join(missing_key), 'new_key': new_key or False,
            'description': env._("The id column(s) %(old)s are gone: identify rows by %(new)s.",
                                 old=obj._key_labels(), new=', '.join(labels.get(c, c) for c in new_key.split(','))
                                 if new_key else env._('(to choose)')),
        })
    for line in obj.field_ids.filtered('enabled'):
        for column in line._source_list():
            if column not in keys and ('missing_column', column) not in decided:
                proposals.append({
                    'object_id': obj.id, 'kind': 'missing_column', 'column': column, 'field_id': line.id,
                    'description': env._("Column %(column)s is gone: stop mapping it to %(target)s.",
                                         column=column, target=line.target_field),
                })
    if not (obj.deletes_object_id or obj.source_object) and obj.target_model != DEFINITION_MODEL:
        # Only what is new since the last upload: a column of the reviewed header left unmapped stays so.
        used = set(previous) | set(obj._key_columns()) | {c for line in obj.field_ids for c in line._source_list()}
        used |= {column for kind, column in decided if kind == 'new_column'}
        for line in _proposed_lines(obj, headers, sample, used):
            column = line['source_fields']
            proposals.append({
                'object_id': obj.id, 'kind': 'new_column', 'column': column, 'column_label': labels.get(column),
                'line_values': line,
                'description': env._("New column %(column)s: map it to %(target)s (%(reason)s).",
                                     column=labels.get(column) or column, target=line['target_field'],
                                     reason=line['reason']),
            })
    for values in proposals:
        values.setdefault('column_label', labels.get(values['column']) or values['column'])
    if proposals:
        Change.create(proposals)
        obj.project_id._mapping_changed()


def _template_columns(line, keys):
    """Per source group of ``line``: the file's columns among the template's alternatives."""
    groups = line.source_candidates or [[s] for s in line._source_list()]
    chosen = []
    for group in groups:
        present = [c for c in group if c in keys]
        chosen.append(present if line.transform in PHONE_TRANSFORMS else present[:1])
    return chosen


def _bind_line(line, plan, labels, concepts, used):
    groups = line.source_candidates or [[s] for s in line._source_list()]
    if not groups or (line.from_definition and not line.object_id.project_id._is_file_source()):
        # An API sample only shows the custom fields its rows have a value in: a definition's
        # line stays. A file's header is complete: there, a missing column turns the line off.
        return
    chosen, reasons, confidence = [], [], 1.0
    for group, present in zip(groups, plan, strict=True):
        if present:
            chosen += present
            continue
        concept = next(filter(None, map(proposal.concept_of, group)), None)
        match = next((c for c in labels if concept and concepts[c] == concept and c not in used), None)
        if match:
            used.add(match)
            chosen.append(match)
            reasons.append('"%s" is a synonym of %s' % (labels[match], concept.replace('_', ' ')))
            confidence = 0.9
    env = line.env
    if chosen:
        line.write({
            'source_fields': ','.join(dict.fromkeys(chosen)), 'note': False,
            # Re-enable what binding itself disabled (a column missing from an
            # earlier file), never a line the template or a person turned off.
            'enabled': line.enabled or bool(line.note),
            'confidence': confidence,
            'reason': '; '.join(reasons) or env._("Listed in the source's template"),
        })
    else:
        line.write({'enabled': False, 'confidence': 0.0, 'reason': False, 'note': env._(
            "No column of the file matches (%s)", ', '.join(g[0] for g in groups))})


def _proposed_lines(obj, headers, sample, used):
    """The mapping lines (values to create) proposed for the columns not in ``used``."""
    env = obj.env
    targets = importable_fields(env, obj.target_model)
    taken = set(obj.field_ids.filtered('enabled').mapped('target_field'))
    # A new x_ field may not reuse the name of any line's target, enabled or not.
    all_targets = set(obj.field_ids.mapped('target_field'))
    day_first = obj.project_id._day_first()
    # New fields other objects of the project plan on the same model (appointments and class
    # attendees are both leads): one x_ field cannot have two types.
    planned = {line.target_field: line.new_field_type for line in obj.project_id.object_ids.field_ids
               if line.object_id != obj and line.object_id.target_model == obj.target_model and line.is_new_field}
    lines = []
    for key, label in headers:
        if key in used:
            continue
        values = [row.get(key) for row in sample]
        found = proposal.propose(key, label, values, obj.target_model, targets, taken=taken)
        ttype, selection = found.new_type, found.selection
        if found.new_type and found.new_type in ('date', 'datetime') and day_first is not None:
            ttype, selection = converters.infer_type(values, day_first)
        other_type = planned.get(found.target)
        if found.new_type and other_type and other_type != ttype and all(converters.is_empty(v) for v in values):
            ttype, selection = other_type, ()  # nothing seen yet: any type fits, take the planned one
        existing = targets.get(found.target)
        if found.new_type and (found.target in all_targets or (existing and existing['type'] != ttype)
                               or (other_type and other_type != ttype)):
            # The name is taken (a template line, an x_ field of another type from another
            # project or planned by another object): keep both.
            found.target = ('x_src_%s_%s' % (obj.name, key))[:63] if other_type else ('x_src_' + key)[:63]
        line = {
            'object_id': obj.id,
            'sequence': 1000 + len(lines),
            'source_fields': key,
            'target_field': found.target,
            'transform': found.transform,
            'confidence': found.confidence,
            'reason': found.reason,
            'new_field_type': ttype or 'char',
            'new_field_label': label or key,
            'new_field_selection': '\n'.join(str(v) for v in selection) or False,
        }
        if found.transform == 'value_map':
            line['value_map_ids'] = _guess_value_map(env, obj.target_model, found.target, values)
        lines.append(line)
        taken.add(found.target)
        all_targets.add(found.target)
    return lines


def _guess_value_map(env, model, target, values):
    """Map each distinct value to the record of the same name (a stage named like the status)."""
    field = env[model]._fields.get(target)
    if not field or field.type != 'many2one':
        return []
    Relation = env[field.comodel_name]
    commands = []
    for index, value in enumerate(dict.fromkeys(str(v).strip() for v in values if not converters.is_empty(v))):
        record = Relation.search([(Relation._rec_name or 'name', '=ilike', like_exact(value))], limit=1)
        if record:
            commands.append((0, 0, {'sequence': index, 'source_value': value, 'target_value': record.display_name}))
    return commands


def _detect_date_order(project, sample):
    if project.date_order != 'auto' or project.detected_date_order:
        return
    # Only numeric dates such as 03/04/2024 are ambiguous; the first value with
    # a day above 12 tells the order of the whole export.
    values = [value for row in sample for key, value in row.items() if key != '_line_nr' and isinstance(value, str)]
    verdict = converters.detect_day_first(values)
    if verdict is not None:
        project.detected_date_order = 'dmy' if verdict else 'mdy'
