# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Find the Odoo records a source row may already be: made by a person, by an earlier
project on the same data, or by this project before it was re-created.

An object's match keys are target fields, alone or together: a lead is the
same person by e-mail, by phone, or by name and date of birth together; a
contact by e-mail; an order by its number.  Records this project migrated
itself are never a match (a rerun updates them through the link table).
"""
import datetime

from odoo import models
from odoo.tools import email_normalize

from .constants import LIVE_OPERATIONS

# Target model -> match keys, each a tuple of fields that must all be equal.
DEFAULT_MATCH_KEYS = {
    'crm.lead': (('email_from',), ('phone',), ('name', 'x_date_of_birth')),
    'res.partner': (('email',),),
    'sale.order': (('name',),),
    # A line is the same when its order already has a line with that description.
    'sale.order.line': (('order_id', 'name'),),
}
CHUNK = 1000


def match_keys(obj):
    """The match keys of ``obj`` that its target model has: its duplicate key first, then the model's."""
    Model = obj.env[obj.target_model]
    keys = [(obj.dedup_field,)] if obj.dedup_field else []
    keys += [key for key in DEFAULT_MATCH_KEYS.get(obj.target_model, ()) if key not in keys]
    return [key for key in keys if all(name in Model._fields for name in key)]


def key_value(values, key):
    """The comparable value of one match key in mapped ``values``, or None when a part is empty."""
    parts = []
    for name in key:
        value = values.get(name)
        if value in (None, False, '') or (isinstance(value, str) and not value.strip()):
            return None
        parts.append(_comparable(value))
    return tuple(parts)


def _comparable(value):
    if isinstance(value, models.BaseModel):
        return value.id
    if isinstance(value, (datetime.date, datetime.datetime)):
        value = value.isoformat()
    if isinstance(value, str):
        # Only an address normalizes as one; parsing every name as an e-mail cost a third of the match.
        return ('@' in value and email_normalize(value)) or ' '.join(value.split()).casefold()
    return value


def find_existing(obj, rows, keys=None):
    """``{source_id: (record, key)}`` for the rows (``[(source_id, values)]``) an Odoo record
    not migrated by this project already stands for, by the first match key that finds one."""
    env = obj.env
    # The audit runs as the migration manager, who may have no right to read leads or orders:
    # whether a record exists decides what the run (as the system) would do, so look as the system.
    Model = env[obj.target_model].sudo().with_context(active_test=False)
    company = [('company_id', 'in', [obj.project_id.company_id.id, False])] if 'company_id' in Model._fields else []
    found, by_id = {}, dict(rows)
    for key in (keys if keys is not None else match_keys(obj)):
        wanted = {}
        for source_id, values in rows:
            value = key_value(values, key)
            if value and source_id not in found:
                wanted.setdefault(value, []).append(source_id)
        if not wanted:
            continue
        email = len(key) == 1 and key[0] in ('email', 'email_from') and 'email_normalized' in Model._fields
        by_value = {}
        values = list(wanted)
        for start in range(0, len(values), CHUNK):
            chunk = values[start:start + CHUNK]
            if email:
                domain = [('email_normalized', 'in', [v[0] for v in chunk])]
            else:
                # The search compares stored values (the rows' own, not their folded form);
                # every part is compared folded below.
                domain = [(key[0], 'in', list({by_id[sid].get(key[0]) for v in chunk for sid in wanted[v]}))]
                domain += [(name, '!=', False) for name in key[1:]]
            for record in Model.search(domain + company):
                value = tuple(_comparable(record[name]) for name in key)
                if email:
                    value = (record.email_normalized,)
                if value in wanted:
                    by_value.setdefault(value, record)
        if not by_value:
            continue
        ours = _migrated_by(obj.project_id, obj.target_model, [r.id for r in by_value.values()])
        for value, record in by_value.items():
            if record.id in ours:
                continue
            for source_id in wanted[value]:
                found.setdefault(source_id, (record, key))
    return found


def _migrated_by(project, model, ids):
    links = project.env['crm.migration.record'].search_fetch([
        ('project_id', '=', project.id), ('res_model', '=', model), ('res_id', 'in', ids),
        ('operation', 'in', LIVE_OPERATIONS)], ['res_id'])
    return set(links.mapped('res_id'))


def describe(obj, record, key):
    """What the duplicate issue says: the fields that matched and who made the record."""
    env = obj.env
    Model = env[obj.target_model]
    fields = ' + '.join(Model._fields[name].string for name in key)
    values = ' / '.join(record[name].display_name if isinstance(record[name], models.BaseModel) else str(record[name])
                        for name in key)
    other = env['crm.migration.record'].search([
        ('res_model', '=', obj.target_model), ('res_id', '=', record.id), ('operation', 'in', LIVE_OPERATIONS),
        ('project_id', '!=', obj.project_id.id)], limit=1)
    origin = env._("migrated by project %s", other.project_id.name) if other else env._("made in Odoo")
    return env._(
        "%(fields)s %(values)s already belongs to %(record)s (%(origin)s): use it, create a separate record, "
        "or skip.", fields=fields, values=values, record=record.display_name, origin=origin)
