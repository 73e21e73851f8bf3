# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The x_ fields a mapping needs, created in one pass before any record loads.

Every ``ir.model.fields`` create reloads the registry and alters a table, so
the fields are created together, once, never inside the row loop.  They are
manual fields without an XML id: like Studio fields they survive an
uninstall of this addon, and the migrated data with them.  Each target model
gets one generated view with a "Migrated data" page showing the fields.
"""
from lxml import etree

from odoo import Command
from odoo.exceptions import UserError
from odoo.tools import SQL

from .constants import selection_keys

# Forms that get the "Migrated data" page (views/crm_migration_migrated_data_views.xml adds it,
# hidden, to each); other models (order lines, attachments) are shown inside these or have no
# form of their own.
FORM_VIEWS = {
    'crm.lead': 'crm_migration.crm_lead_view_form_migrated_data',
    'res.partner': 'crm_migration.res_partner_view_form_migrated_data',
    'sale.order': 'crm_migration.sale_order_view_form_migrated_data',
}
PAGE = "//page[@name='crm_migration_migrated_data']"
# Field types whose empty value is worth hiding (a lead from the patients file has no
# appointment date): numbers and booleans always show, 0 and unticked are values.
HIDDEN_WHEN_EMPTY = ('char', 'text', 'html', 'date', 'datetime', 'selection', 'many2one')


def planned_fields(project):
    """``{(model, name): spec}`` of the x_ fields the enabled mapping writes."""
    planned = {}
    for obj in project.object_ids.filtered(lambda o: o.enabled and o.model_installed):
        for line in obj.field_ids.filtered('enabled'):
            name = line.target_field or ''
            if not name.startswith('x_'):
                continue
            model = (line.write_to_object_id or obj).target_model
            spec = {
                'model': model,
                'name': name,
                'ttype': line.target_ttype,
                'label': line.target_description or name,
                'relation': line.new_field_relation if line.target_ttype == 'many2one' else False,
                'selection': [v for _k, v in line._selection_values()] if line.target_ttype == 'selection' else [],
                'sources': ['%s.%s' % (obj.name, source) for source in line._source_list()],
                'exists': not line.is_new_field,
            }
            key = (model, name)
            known = planned.get(key)
            if known:
                if known['ttype'] != spec['ttype']:
                    raise UserError(project.env._(
                        "%(model)s.%(field)s is mapped as %(a)s and as %(b)s; use one type.",
                        model=key[0], field=name, a=known['ttype'], b=spec['ttype']))
                known['sources'] += spec['sources']
                known['selection'] += [v for v in spec['selection'] if v not in known['selection']]
            else:
                planned[key] = spec
    return planned


def ensure_custom_fields(project):
    """Create the missing x_ fields and (re)generate the 'Migrated data' views."""
    env = project.env
    planned = planned_fields(project)
    missing = [spec for spec in planned.values() if not spec['exists']]
    if missing:
        for spec in missing:
            if spec['ttype'] == 'many2one' and not spec['relation']:
                raise UserError(env._("Choose the linked model of the new field %s.", spec['name']))
        created = env['ir.model.fields'].sudo().create([_field_values(env, spec) for spec in missing])
        project.sudo().custom_field_ids = [Command.link(field.id) for field in created]
    _update_views(project, planned)
    return planned


def _field_values(env, spec):
    values = {
        'model_id': env['ir.model']._get_id(spec['model']),
        'name': spec['name'],
        'ttype': spec['ttype'],
        'field_description': spec['label'],
        'state': 'manual',
        'store': True,
        'copied': False,
        'help': env._("Migrated from %s", ', '.join(spec['sources'])),
    }
    if spec['ttype'] == 'selection':
        values['selection_ids'] = [Command.create({'value': key, 'name': label, 'sequence': index})
                                   for index, (key, label) in enumerate(selection_keys(spec['selection']))]
    if spec['ttype'] == 'many2one':
        values.update(relation=spec['relation'], on_delete='set null')
    return values


def _update_views(project, planned):
    env = project.env
    View = env['ir.ui.view'].sudo()
    by_model = {}
    for (model, name), spec in sorted(planned.items()):
        by_model.setdefault(model, []).append((name, spec['ttype']))
    for model, names in by_model.items():
        parent = env.ref(FORM_VIEWS.get(model, ''), raise_if_not_found=False) if model in FORM_VIEWS else None
        if not parent:
            continue
        arch = _page_arch(names, project)
        view = project.custom_view_ids.filtered(lambda v, m=model: v.model == m)
        if view:
            # Views generated before the shared page inherited the form itself.
            view.write({'arch_db': arch, 'inherit_id': parent.id})
        else:
            view = View.create({
                'name': 'crm_migration.%s.migrated.data.%d' % (model, project.id),
                'model': model,
                'inherit_id': parent.id,
                'mode': 'extension',
                'priority': 99,
                'arch_db': arch,
            })
            project.sudo().custom_view_ids = [Command.link(view.id)]


def _page_arch(fields, project):
    """The shared "Migrated data" page shown, with ``fields`` ([(name, type)]) in this project's group."""
    root = etree.Element('data')
    shown = etree.SubElement(root, 'xpath', expr=PAGE, position='attributes')
    etree.SubElement(shown, 'attribute', name='invisible').text = 'False'
    xpath = etree.SubElement(root, 'xpath', expr=PAGE, position='inside')
    group = etree.SubElement(xpath, 'group', string=project.name or '', name='crm_migration_%d' % project.id)
    for name, ttype in fields:
        attributes = {'name': name}
        if ttype in HIDDEN_WHEN_EMPTY:
            attributes['invisible'] = 'not %s' % name
        etree.SubElement(group, 'field', **attributes)
    return etree.tostring(root, encoding='unicode')


def remove_custom_fields(project):
    """Delete the x_ fields ``project`` created that hold no data; return ``(removed, kept)`` names.

    A field with a value on any record (migrated or typed in since) is kept:
    removing it would delete that data with it.
    """
    env = project.env
    removed, kept, doomed = [], [], env['ir.model.fields']
    for field in project.custom_field_ids.sudo():
        model = env.get(field.model)
        if model is None or field.name not in model._fields:
            doomed |= field
            continue
        env.cr.execute(SQL("SELECT 1 FROM %s WHERE %s IS NOT NULL LIMIT 1",
                           SQL.identifier(model._table), SQL.identifier(field.name)))
        if env.cr.fetchone():
            kept.append('%s.%s' % (field.model, field.name))
        else:
            doomed |= field
    # Views first: Odoo refuses to delete a field a view still shows.
    remaining = {}
    for field in project.custom_field_ids.sudo() - doomed:
        remaining.setdefault(field.model, []).append((field.name, field.ttype))
    for view in project.custom_view_ids.sudo():
        names = remaining.get(view.model)
        if names:
            view.arch_db = _page_arch(sorted(names), project)
        else:
            view.unlink()
    names = ['%s.%s' % (f.model, f.name) for f in doomed]
    try:
        with env.cr.savepoint():
            doomed.unlink()
        removed = names
    except UserError:
        # Another view (Studio, a customisation) uses some of them: go one by one.
        for field, name in zip(doomed, names, strict=True):
            try:
                with env.cr.savepoint():
                    field.unlink()
                removed.append(name)
            except UserError:
                kept.append(name)
    return removed, kept


def custom_field_manifest(project):
    """The custom-field manifest the seeds promise: what exists or is created, and from where."""
    fields = []
    for (model, name), spec in sorted(planned_fields(project).items()):
        fields.append({
            'model': model,
            'field': name,
            'type': spec['ttype'],
            'label': spec['label'],
            'relation': spec['relation'] or None,
            'selection': spec['selection'] or None,
            'sources': spec['sources'],
            'status': 'present' if spec['exists'] else 'to create',
        })
    return {
        'project': project.name,
        'source_type': project.source_type,
        'fields': fields,
    }
