# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Custom-field definitions of the source become mapping lines (template feature L8).

Clio's ``/custom_fields``, noCRM's ``/fields`` and a Clientjoy custom-field
export describe the fields whose *values* arrive on other objects (Clio
contacts and matters, noCRM leads, Clientjoy customers and leads).  Their
objects target ``ir.model.fields`` and are never loaded as records: each
definition row is mapped through the object's lines (label, name, model, type,
options) and becomes, on the object holding the values, a mapping line to a new
``x_`` field of the declared type.  A picklist gets its options as the field's
selection and a value map option by option, which the consultant may edit
before the fields are created.  Types guessed from sample values give way to
the declared ones while the field does not exist yet.
"""
import dataclasses

from ..connectors.mapper import NameRef, normalize_key
from ..connectors.tabular import normalize_header
from .constants import DEFINITION_MODEL, selection_keys
from .loader import build_mapper

FIELD_TYPES = {'char', 'text', 'html', 'integer', 'float', 'monetary', 'boolean', 'date', 'datetime',
               'selection'}
OPTION_SEPARATORS = (';', '\n', '|')


@dataclasses.dataclass
class Definition:
    model: str
    label: str
    keys: tuple  # the value columns it may arrive as, most likely first
    ttype: str
    options: tuple = ()
    note: str = ''
    holders: tuple = ()  # object names that may carry the values (empty: any of the model)


def definition_objects(project):
    return project.object_ids.filtered(lambda o: o.target_model == DEFINITION_MODEL)


def read_definitions(obj, rows, api=True):
    """``(definitions, skipped)``: ``rows`` of a definition object through its mapping lines."""
    mapper = build_mapper(obj)
    definitions, skipped = [], []
    for row in rows:
        if not obj._row_matches(row):
            continue
        values, problems = mapper.map_row(row)
        label = str(values.get('field_description') or values.get('name') or '').strip()
        model = _model_name(obj.env, values.get('model_id'))
        if not label or not model:
            reasons = '; '.join(p.message for p in problems if p.field in ('model_id', 'field_description', 'name'))
            skipped.append('%s: %s' % (label or row.get(obj.source_key) or '?',
                                       reasons or obj.env._('no name or no Odoo model')))
            continue
        ttype, note = values.get('ttype'), ''
        if ttype not in FIELD_TYPES:
            raw = next((p.message for p in problems if p.field == 'ttype'), ttype)
            ttype, note = 'char', obj.env._('type %s kept as text', raw or '?')
        name = str(values.get('name') or label)
        if not column_keys(name, label, api):
            skipped.append(obj.env._('%s: no column name can be derived from it (map its column by hand)', label))
            continue
        definitions.append(Definition(
            model=model, label=label, keys=column_keys(name, label, api), ttype=ttype,
            options=split_options(values.get('selection')), note=note, holders=obj._holder_names()))
    return definitions, skipped


def column_keys(name, label, api=True):
    """Where a definition's values arrive: API connectors emit ``cf_<name>``, exports a column."""
    keys = ['cf_%s' % normalize_header(name)] if api else []
    keys += [normalize_header(label), normalize_header(name), 'cf_%s' % normalize_header(label)]
    return tuple(dict.fromkeys(k for k in keys if k and k != 'cf_'))


def split_options(text):
    text = str(text or '')
    separator = next((s for s in OPTION_SEPARATORS if s in text), None)
    parts = text.split(separator) if separator else [text]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _model_name(env, value):
    if isinstance(value, NameRef):
        value = value.name
    value = str(value or '').strip()
    if not value:
        return None
    if '.model_' in value:
        record = env.ref(value, raise_if_not_found=False)
        return record.model if record and record._name == 'ir.model' else None
    return value if value in env else env['ir.model'].search([('name', '=ilike', value)], limit=1).model


def apply_definitions(project, definitions):
    """Write the lines; returns one message per definition and object, applied, kept or skipped."""
    messages = []
    for definition in definitions:
        holders = _holders(project, definition)
        if not holders:
            messages.append(project.env._('%(label)s: no object of the mapping loads %(model)s.',
                                          label=definition.label, model=definition.model))
        messages += [_apply_one(holder, key, definition) for holder, key in holders]
    return messages


def _holders(project, definition):
    """The objects whose rows carry the definition's values, each with the column they arrive in.

    Every object of the model reading a table of its own and carrying the column (noCRM
    leads, and prospects whose list has a column of that name); when no sampled row had a
    value yet, the first such object, as later rows may.
    """
    candidates = project.object_ids.filtered(
        lambda o: o.target_model == definition.model and not o.deletes_object_id
        and (not definition.holders or o.name in definition.holders)).sorted(lambda o: (o.sequence, o.id))
    for primary_only in (True, False):
        found = []
        for obj in candidates.filtered(lambda o, primary_only=primary_only: not (primary_only and o.source_object)):
            headers = obj._header_keys()
            key = next((k for k in definition.keys if k in headers), None)
            if key:
                found.append((obj, key))
        if found:
            return found
    primary = candidates.filtered(lambda o: not o.source_object)[:1]
    return [(primary, definition.keys[0])] if primary else []


def _apply_one(obj, key, definition):
    env = obj.env
    ttype, options, note = definition.ttype, definition.options, definition.note
    lines = obj.field_ids.filtered(lambda line: key in line._source_list())
    if ttype == 'selection' and not options:
        # No declared options: the values seen in the sample, else plain text.
        options = tuple(v for line in lines for v in (line.new_field_selection or '').splitlines() if v.strip())
        if not options:
            ttype, note = 'char', env._('a picklist without options: kept as text')
    values = {
        'new_field_type': ttype,
        'new_field_label': definition.label,
        'confidence': 1.0,
        'reason': env._('declared as %(type)s in the source\'s field definitions', type=definition.ttype),
        'from_definition': True,
        'definition_options': '\n'.join(dict.fromkeys(definition.options)) or False,
    }
    if key not in obj._header_keys():
        obj.source_columns = list(obj.source_columns or []) + [[key, definition.label]]
    if not lines:
        target = _free_target(obj, 'x_%s' % key, ttype)
        env['crm.migration.field'].create(dict(
            values, object_id=obj.id, sequence=1000 + len(obj.field_ids), source_fields=key, target_field=target,
            **_options_values(env['crm.migration.field'], ttype, options)))
        return env._('%(label)s: new field %(target)s (%(type)s) on %(object)s.%(note)s', label=definition.label,
                     target=target, type=ttype, object=obj.label, note=note and ' (%s)' % note)
    typed = lines.filtered('from_definition')
    if typed:
        # Read before: what the consultant made of the line stands (enabled or not, its
        # target, its value map); a picklist option added in the source since is added.
        added, late = [], []
        for line in typed:
            new, missing = _merge_options(line, options)
            added += new
            late += missing
        return env._('%(label)s: already read on %(object)s (%(targets)s)%(added)s%(late)s.', label=definition.label,
                     object=obj.label, targets=', '.join(typed.mapped('target_field')),
                     added=added and env._('; new options: %s', ', '.join(dict.fromkeys(added))) or '',
                     late=late and env._('; options missing from the existing field: %s',
                                         ', '.join(dict.fromkeys(late))) or '')
    # A template line is a decision; a line the proposal guessed from the name or the
    # sample gives way to the declaration (the field is custom in the source, so x_ here).
    guessed = lines.filtered(lambda line: not line.source_candidates)
    retyped = guessed.filtered('is_new_field')
    standard = guessed.filtered(lambda line: not line.is_new_field and not line.target_field.startswith('x_'))
    if not retyped and standard:
        retyped = standard[:1]
        retyped.target_field = _free_target(obj, 'x_%s' % key, ttype)
    if not retyped:
        # Template lines, or x_ fields already created: as they are.
        return env._('%(label)s: kept as mapped on %(object)s (%(targets)s).', label=definition.label,
                     object=obj.label, targets=', '.join(lines.mapped('target_field')))
    for line in retyped:
        line.write(dict(values, **_options_values(line, ttype, options)))
    return env._('%(label)s: %(targets)s on %(object)s set to %(type)s.%(note)s', label=definition.label,
                 targets=', '.join(retyped.mapped('target_field')), object=obj.label, type=ttype,
                 note=note and ' (%s)' % note)


def _options_values(line, ttype, options):
    """Selection values and a value map, option by option, for a line typed from a definition."""
    if ttype != 'selection':
        if line and line.transform == 'value_map':
            return {'transform': 'direct', 'new_field_selection': False, 'value_map_ids': [(5, 0, 0)]}
        return {'new_field_selection': False}
    # The declared options first: values seen in the sample only add what they lack.
    seen = (line.new_field_selection or '').splitlines() if line and line.new_field_type == 'selection' else []
    labels = [label for _key, label in selection_keys(list(options) + seen)]
    label_of = {normalize_key(label): label for label in labels}
    # Each option maps to its label, which the field's key is found by when a row loads:
    # reordering or renaming options never shifts one value onto another.
    return {
        'transform': 'value_map',
        'new_field_selection': '\n'.join(labels),
        'value_map_ids': [(5, 0, 0)] + [
            (0, 0, {'sequence': i, 'source_value': option, 'target_value': label_of[normalize_key(option)]})
            for i, option in enumerate(dict.fromkeys(options)) if option.strip()],
    }


def _new_options(line, options):
    """Declared options the last reading of the definition did not have.

    Compared with what was declared then, not with what the line holds now: an
    option the consultant removed stays removed.
    """
    declared = {normalize_key(value) for value in (line.definition_options or '').splitlines() if value.strip()}
    return [option for option in dict.fromkeys(options) if option.strip() and normalize_key(option) not in declared]


def _merge_options(line, options):
    """Add the options declared since the last reading; returns ``(added, missing)``.

    Once the field exists its options are Odoo's: a new option is mapped when the field
    has it (an administrator extended it), else named as missing, rows holding it failing.
    """
    new = _new_options(line, options)
    if line.new_field_type != 'selection' and line.target_ttype != 'selection' or not new:
        return [], []
    values = {}
    if line.is_new_field:
        labels = [v for v in (line.new_field_selection or '').splitlines() if v.strip()]
        known = {normalize_key(label) for label in labels}
        added = [option for option in new if normalize_key(option) not in known]
        values['new_field_selection'] = '\n'.join(labels + added)
        missing = []
    else:
        have = {normalize_key(label): label for _key, label in line._selection_values()}
        added = [option for option in new if normalize_key(option) in have]
        missing = [option for option in new if normalize_key(option) not in have]
    mapped = {normalize_key(value) for value in line.value_map_ids.mapped('source_value')}
    if line.transform == 'value_map':
        values['value_map_ids'] = [(0, 0, {'sequence': len(line.value_map_ids) + i, 'source_value': option,
                                           'target_value': option})
                                   for i, option in enumerate(added) if normalize_key(option) not in mapped]
    # A missing option is left out of the options read, so the next reading names it again.
    values['definition_options'] = '\n'.join(
        option for option in dict.fromkeys(options) if option not in missing)
    line.write(values)
    return added, missing


def _free_target(obj, name, ttype):
    """``name`` unless a line already writes it or an x_ field of another type holds it."""
    taken = set(obj.field_ids.mapped('target_field'))
    fields = obj.env[obj.target_model]._fields
    for candidate in (name[:63], ('x_src_' + name[2:])[:63], name[:59] + '_def'):
        existing = fields.get(candidate)
        if candidate not in taken and (not existing or existing.type == ttype):
            return candidate
    return name[:55] + '_%d' % len(taken)
