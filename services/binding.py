# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bind an uploaded table to a source object: recognise which object a file
holds, find each mapping line's columns (template alternatives, then
synonyms), and propose a target for every other column -- an existing field
by synonym, name or similarity, else a new x_ field typed from its values.
Every line says why it was proposed and how sure the proposal is; nothing
loads until a person confirms the mapping on the project.
"""
import logging

from odoo.models import MAGIC_COLUMNS

from ..connectors import converters, proposal
from .constants import DEFINITION_MODEL, like_exact

_logger = logging.getLogger(__name__)

PROFILE_ROWS = 200
# Rows of another table read for its ids (lookup proposals).
ID_ROWS = 50000
# Fields a proposal never targets: technical, computed without inverse, chatter.
SKIPPED_PREFIXES = ('message_', 'activity_', 'website_message', 'rating_', '__')


def _patterns(text):
    return [p.strip() for p in (text or '').split(',') if p.strip()]


def score_object(obj, table_name, header_keys):
    """How well a table (by its name and header) fits a source object; <= 0 means no."""
    return proposal.score_table(
        table_name, header_keys, _patterns(obj.file_patterns), _patterns(obj.exclude_patterns),
        obj._candidate_list(), [group for line in obj.field_ids for group in (line.source_candidates or [])])


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


class _LineView:
    """A mapping line as ``proposal.bind_lines`` reads it."""

    def __init__(self, line):
        self.line = line
        self.groups = line.source_candidates or [[s] for s in line._source_list()]
        # An API sample only shows the custom fields its rows fill: a definition's line stays as it is.
        self.kept = bool(line.from_definition and not line.object_id.project_id._is_file_source())
        if self.kept:
            self.groups = []
        self.transform = line.transform
        self.target = line.target_field
        self.ttype = line.target_ttype
        self.lookup_object = line.lookup_object_id.name or None


def _table_words(obj, table_label=''):
    """The words naming the table's own rows, and those naming the project's other objects."""
    own = proposal.own_words(obj.name, obj._source_name(), table_label)
    foreign = set()
    for other in obj.project_id.object_ids - obj:
        foreign |= proposal.own_words(other.name)
    return own, foreign - own


def table_key(obj, headers, sample, own=None, foreign=None):
    """The id column(s) of a table bound to ``obj``: a template spelling present as it is, else
    ``proposal.guess_key_columns`` (spelling, uniqueness, never another table's id)."""
    keys = [key for key, _label in headers]
    if own is None:
        own, foreign = _table_words(obj)
    return proposal.choose_key(keys, sample, dict(headers), own, obj._candidate_list(), foreign)


def known_ids(project, tables=(), limit=ID_ROWS):
    """``{object name: set of source ids}``: of the tables being bound (``{obj: table}``) and of the
    objects bound before, each read up to ``limit`` rows.  Lets a column holding another table's ids
    be proposed as a lookup of that table."""
    result = {}
    for obj, table in dict(tables).items():
        headers = table.headers()
        key = table_key(obj, headers, table.sample(PROFILE_ROWS), *_table_words(obj, table.label or ''))
        if key:
            result[obj.name] = _ids(table.iter_rows(), key, limit)
    earlier = project.object_ids.filtered(lambda o: o.attachment_id and o.source_key and o not in dict(tables)
                                          and not o.source_object)
    if earlier and project._is_file_source():
        source = project._get_source()
        for obj in earlier:
            try:
                result[obj.name] = _ids(source.iter_rows(obj._source_name()), obj._key_columns(), limit)
            except Exception:  # noqa: BLE001 - a file unreadable now only costs the lookup proposal
                _logger.info("ids of %s not read for lookup proposals", obj.name, exc_info=True)
    return result


def _ids(rows, key, limit):
    ids = set()
    for index, row in enumerate(rows):
        if index >= limit:
            break
        value = proposal.source_id_of(row, key)
        if value:
            ids.add(value)
    return ids


def bind_table(obj, attachment, table, sheet=None, ids_of=None):
    """Attach ``table`` to ``obj`` and adapt the mapping lines to its header.

    ``ids_of``: ``{object name: ids}`` of the project's other tables (``known_ids``), so that a
    column holding one of them is proposed as a lookup of that object.

    A reviewed object keeps its mapping as it is (id columns, re-pointed and
    disabled lines, value maps, defaults): what the new header calls for is
    proposed as ``crm.migration.mapping.change`` rows instead.
    """
    headers = table.headers()
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
    own, foreign = _table_words(obj, getattr(table, 'label', '') or '')
    key = table_key(obj, headers, sample, own, foreign)
    if obj.source_key != (','.join(key) or False):
        obj.source_key = ','.join(key) or False
    ids_of = {name: ids for name, ids in (ids_of or {}).items() if name != obj.name}
    # Every column a template line lists feeds it; a line still missing a column takes the
    # best-fitting unclaimed one (spelling, synonym, value shape, ids of the looked-up table).
    bindings = proposal.bind_lines(
        [_LineView(line) for line in obj.field_ids], headers, sample, own=own, key=key,
        key_candidates=obj._candidate_list(), ids_of=ids_of, day_first=obj.project_id._day_first())
    used = set(key)
    for view, found in bindings.items():
        used.update(found.columns or (view.line._source_list() if view.kept else ()))
        _bind_line(view.line, found, sample)
    # Deletions only carry ids, definitions are read into other objects' lines, and the columns of
    # a table read by several objects are proposed to the object that owns it: nothing to propose.
    if not (obj.deletes_object_id or obj.source_object) and obj.target_model != DEFINITION_MODEL:
        lines = _proposed_lines(obj, headers, sample, used, ids_of=ids_of, own=own)
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


def sample_text(sample, column, count=3):
    """The first distinct values of a column, as the mapping screen shows them."""
    values = []
    for row in sample:
        text = ' '.join(proposal.value_to_text(row.get(column)).split())
        if text and text not in values:
            values.append(text[:40])
            if len(values) == count:
                break
    return ' · '.join(values) or False


def _bind_line(line, found, sample=()):
    """Write what ``proposal.bind_lines`` found for ``line``."""
    groups = line.source_candidates or [[s] for s in line._source_list()]
    if not groups or (line.from_definition and not line.object_id.project_id._is_file_source()):
        # An API sample only shows the custom fields its rows have a value in: a definition's
        # line stays. A file's header is complete: there, a missing column turns the line off.
        return
    env = line.env
    if found.columns:
        joined = {'transform': 'concat', 'separator': proposal.KEY_SEPARATOR} if found.joined else {}
        line.write(dict(joined, **{
            'source_fields': ','.join(found.columns), 'note': False,
            'sample_values': sample_text(sample, found.columns[0]),
            # Re-enable what binding itself disabled (a column missing from an
            # earlier file), never a line the template or a person turned off.
            'enabled': line.enabled or bool(line.note),
            'confidence': found.confidence,
            'reason': '; '.join(found.reasons) or env._("Listed in the source's template"),
        }))
    else:
        # A required line switched off here is reported by the audit (services.audit.missing_column_issues).
        line.write({'enabled': False, 'confidence': 0.0, 'reason': False, 'note': env._(
            "No column of the file matches (%s)", ', '.join(g[0] for g in groups))})


def _proposed_lines(obj, headers, sample, used, ids_of=None, own=None):
    """The mapping lines (values to create) proposed for the columns not in ``used``."""
    env = obj.env
    if own is None:
        own = _table_words(obj)[0]
    objects = {o.name: o for o in obj.project_id.object_ids}
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
        found = proposal.propose(key, label, values, obj.target_model, targets, taken=taken, ids_of=ids_of,
                                 own=own, names=all_targets)
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
            found.target = proposal.new_field_name(
                key, key, all_targets, prefix=('x_src_%s_' % obj.name) if other_type else 'x_src_')
        line = {
            'object_id': obj.id,
            'sequence': 1000 + len(lines),
            'source_fields': key,
            'sample_values': sample_text(sample, key),
            'target_field': found.target,
            'transform': found.transform,
            'confidence': found.confidence,
            'reason': found.reason,
            'new_field_type': ttype or 'char',
            'new_field_label': label or key,
            'new_field_selection': '\n'.join(str(v) for v in selection) or False,
        }
        looked_up = objects.get(found.lookup_object)
        if found.transform == 'lookup' and looked_up:
            line.update(lookup_object_id=looked_up.id, new_field_type='many2one',
                        new_field_relation=looked_up.target_model)
        elif found.transform == 'lookup':
            line.update(transform='direct', new_field_type='char')
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
