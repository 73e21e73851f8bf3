# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Default mappings shipped per source (``data/templates/<source>.json``).

The JSON is the seed's object mapping table in data form: objects, source
column alternatives, targets, transforms, value maps and the x_ fields.
"""
import json

from odoo.tools import file_open

PHONE_TRANSFORMS = ('first_phone', 'other_phones')


def load_template(source_type):
    with file_open('crm_migration/data/templates/%s.json' % source_type) as handle:
        return json.load(handle)


def source_groups(spec):
    """Alternatives per source column: ``[["first_name", "given_name"], ["last_name", ...]]``."""
    sources = spec.get('sources') or []
    if not sources:
        return []
    if any(isinstance(source, list) for source in sources):
        return [source if isinstance(source, list) else [source] for source in sources]
    if spec.get('transform') in PHONE_TRANSFORMS:
        return [[source] for source in sources]  # every phone column is read
    return [list(sources)]


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
        }), spec)
    for obj, spec in created.values():
        lines = []
        for index, field in enumerate(spec.get('fields', []), start=1):
            groups = source_groups(field)
            lookup = created.get(field.get('lookup_object'), (Object, None))[0]
            lines.append({
                'object_id': obj.id,
                'sequence': index * 10,
                'source_candidates': groups,
                'source_fields': ','.join(group[0] for group in groups),
                'target_field': field['target'],
                'transform': field.get('transform', 'direct'),
                'separator': field.get('separator', ' '),
                'lookup_object_id': lookup.id,
                'default_value': field.get('default') or False,
                'required': field.get('required', False),
                'create_missing': field.get('create_missing', False),
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
