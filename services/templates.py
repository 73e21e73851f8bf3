# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Default mappings shipped per source (``data/templates/<source>.json``).

The JSON is the seed's object mapping table in data form: objects, source
column alternatives, targets, transforms, value maps and the x_ fields.
"""
import json

from odoo.tools import file_open

from ..connectors.proposal import source_groups


def load_template(source_type):
    with file_open('crm_migration/data/templates/%s.json' % source_type) as handle:
        return json.load(handle)


def apply_template(project, template):
    Object = project.env['crm.migration.object']
    created = {}
    for index, spec in enumerate(template.get('objects', []), start=1):
        keys = spec.get('source_key') or []
        keys = [keys] if isinstance(keys, str) else keys
        created[spec['name']] = (Object.create({
            'project_id': project.id,
            'name': spec['name'],
            'label': spec.get('label') or spec['name'],
            'sequence': index * 10,
            'target_model': spec['target_model'],
            'source_key': keys[0] if keys else False,
            'source_key_candidates': ','.join(keys),
            'file_patterns': ','.join(spec.get('file_patterns') or []),
            'exclude_patterns': ','.join(spec.get('exclude_patterns') or []),
            'dedup_field': spec.get('dedup_field') or False,
            'match_existing': spec.get('match_existing', False),
            'create_records': spec.get('create', True),
            'source_object': spec.get('source_object') or False,
            'row_filter': spec.get('row_filter') or False,
            'create_partner': spec.get('create_partner', False),
            'definition_holders': ','.join(spec.get('holders') or []) or False,
            'enabled': spec.get('enabled', True),
        }), spec)
        if spec.get('source_key_column'):
            created[spec['name']][0].source_key = spec['source_key_column']
    for obj, spec in created.values():
        if spec.get('deletes'):
            obj.deletes_object_id = created[spec['deletes']][0]
        lines = []
        for index, field in enumerate(spec.get('fields', []), start=1):
            groups = source_groups(field)
            lookup = created.get(field.get('lookup_object'), (Object, None))[0]
            write_to = created.get(field.get('write_to'), (Object, None))[0]
            lines.append({
                'object_id': obj.id,
                'sequence': field.get('sequence', index * 10),
                'source_candidates': groups,
                'source_fields': field.get('source_fields') or ','.join(group[0] for group in groups),
                'enabled': field.get('enabled', True),
                'max_length': field.get('max_length') or 0,
                'target_field': field['target'],
                'transform': field.get('transform', 'direct'),
                'separator': field.get('separator', ' '),
                'lookup_object_id': lookup.id,
                'write_to_object_id': write_to.id,
                'write_mode': field.get('write_mode', 'set'),
                'default_value': field.get('default') or False,
                'required': field.get('required', False),
                'create_missing': field.get('create_missing', False),
                'optional': field.get('optional', False),
                'new_field_type': field.get('type', 'char'),
                'new_field_label': field.get('label') or False,
                'new_field_relation': field.get('relation') or False,
                'new_field_selection': '\n'.join(field.get('selection') or []) or False,
                'value_map_ids': [
                    (0, 0, {'sequence': i, 'source_value': source, 'target_value': target})
                    for i, (source, target) in enumerate((field.get('value_map') or {}).items())
                ],
            })
        project.env['crm.migration.field'].create(lines)
    return [obj for obj, _spec in created.values()]


def export_mapping(project):
    """The project's mapping in the template format, with the columns actually bound.

    ``apply_template`` reads it back, so a mapping reviewed in one project can
    be reused in another (another clinic of the same group, a rehearsal).
    """
    objects = []
    for obj in project.object_ids.sorted(lambda o: (o.sequence, o.id)):
        fields = []
        for line in obj.field_ids.sorted(lambda fline: (fline.sequence, fline.id)):
            entry = {
                'sources': line.source_candidates or [[s] for s in line._source_list()],
                'source_fields': line.source_fields or '',
                'target': line.target_field,
                'transform': line.transform,
                'enabled': line.enabled,
                'sequence': line.sequence,
            }
            optional = {
                'separator': line.separator if line.separator != ' ' else None,
                'lookup_object': line.lookup_object_id.name,
                'write_to': line.write_to_object_id.name,
                'write_mode': line.write_mode if line.write_to_object_id else None,
                'default': line.default_value, 'required': line.required, 'create_missing': line.create_missing,
                'optional': line.optional,
                'max_length': line.max_length,
                'value_map': {v.source_value or '': v.target_value or '' for v in line.value_map_ids},
            }
            if line.is_new_field or (line.target_field or '').startswith('x_'):
                optional.update(type=line.target_ttype, label=line.target_description,
                                relation=line.new_field_relation,
                                selection=[v for _k, v in line._selection_values()])
            entry.update({k: v for k, v in optional.items() if v})
            fields.append(entry)
        objects.append({
            'name': obj.name, 'label': obj.label, 'target_model': obj.target_model, 'enabled': obj.enabled,
            'source_key': obj._candidate_list() or [obj.source_key], 'source_key_column': obj.source_key,
            'file_patterns': [p for p in (obj.file_patterns or '').split(',') if p],
            'exclude_patterns': [p for p in (obj.exclude_patterns or '').split(',') if p],
            'dedup_field': obj.dedup_field or None, 'match_existing': obj.match_existing,
            'create': obj.create_records, 'create_partner': obj.create_partner,
            'deletes': obj.deletes_object_id.name or None,
            'source_object': obj.source_object or None, 'row_filter': obj.row_filter or None,
            'holders': list(obj._holder_names()) or None,
            'fields': fields,
        })
    template = load_template(project.source_type)
    return {
        'source_type': project.source_type,
        'name': project.name,
        'objects': objects,
        'not_migrated': template.get('not_migrated', []),
        'options': {'source_tz': project.source_tz, 'date_order': project.date_order,
                    'decimal_separator': project.decimal_separator},
    }


def import_mapping(project, data):
    """Replace the project's mapping with ``data``, keeping the files already bound."""
    if data.get('source_type') and data['source_type'] != project.source_type:
        raise ValueError('this mapping is for %s, the project reads %s' % (data['source_type'], project.source_type))
    bound = {obj.name: {'attachment_id': obj.attachment_id.id, 'sheet_name': obj.sheet_name,
                        'source_columns': obj.source_columns, 'row_count': obj.row_count}
             for obj in project.object_ids}
    project.object_ids.field_ids.unlink()  # lines look objects up: they go first
    project.object_ids.unlink()
    for obj in apply_template(project, data):
        if obj.name in bound:
            obj.write(bound[obj.name])
    options = data.get('options') or {}
    project.write({key: value for key, value in options.items() if key in project._fields})
