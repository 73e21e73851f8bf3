# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Undo a migration from the link table only, in reverse dependency order.

Created records are deleted, updated ones get their recorded previous values
back.  Nothing is searched by date or name: a record the migration did not
record is never touched.
"""
import logging

from odoo import fields

from .constants import LIVE_OPERATIONS
from .loader import IMPORT_CONTEXT, ROW_ERRORS, _error_message

_logger = logging.getLogger(__name__)


def rollback_domain(run, obj):
    domain = [('object_id', '=', obj.id), ('operation', 'in', LIVE_OPERATIONS)]
    if run.rollback_of_id:
        domain.append(('run_id', '=', run.rollback_of_id.id))
    return domain


def rollback_batch(run, obj, limit):
    """Undo up to ``limit`` records of ``obj``, newest first; return ``(processed, counts)``.

    The cursor ``run.offset`` holds the lowest record id done so far, so a
    record that cannot be undone is reported once and not retried forever.
    """
    Record = run.env['crm.migration.record']
    domain = rollback_domain(run, obj)
    if run.offset:
        domain.append(('id', '<', run.offset))
    records = Record.search(domain, order='id desc', limit=limit)
    counts = {'removed': 0, 'restored': 0, 'failed': 0}
    if not records:
        return 0, counts
    # Newest first: an activity or a contact made for a lead goes before the lead.
    for record in records:
        with_savepoint(run, record, counts)
    run.offset = records[-1].id
    return len(records), counts


def with_savepoint(run, record, counts):
    env = run.env
    try:
        with env.cr.savepoint():
            outcome = _undo(env, record)
    except ROW_ERRORS as error:
        counts['failed'] += 1
        record.message = env._("Rollback failed: %s", _error_message(error))
        return
    counts[outcome] = counts.get(outcome, 0) + 1
    record.write({'operation': 'rolled_back', 'run_id': run.id, 'synced_at': fields.Datetime.now(),
                  'message': env._("Removed by rollback") if outcome == 'removed'
                  else env._("Previous values restored by rollback")})


def _undo(env, record):
    if record.res_model not in env:
        return 'removed'
    target = env[record.res_model].with_context(IMPORT_CONTEXT, active_test=False).browse(record.res_id).exists()
    if record.operation == 'created':
        if target:
            _before_unlink(record, target)
            target.unlink()
        return 'removed'
    if record.operation == 'updated' and target and record.before_values:
        target.write(_restorable(target, record.before_values))
    return 'restored'


def _before_unlink(record, target):
    """Odoo refuses to delete confirmed orders and their lines until cancelled."""
    orders = target.env['sale.order']
    if target._name == 'sale.order':
        orders = target
    elif target._name == 'sale.order.line':
        # Only an order the migration itself created is cancelled on the way.
        owned = target.env['crm.migration.record'].search_count([
            ('project_id', '=', record.project_id.id), ('res_model', '=', 'sale.order'),
            ('res_id', '=', target.order_id.id), ('operation', '=', 'created')])
        orders = target.order_id if owned else orders
    orders.filtered(lambda o: o.state not in ('draft', 'cancel')).write({'state': 'cancel'})


def _restorable(target, before):
    values = {}
    for name, value in before.items():
        field = target._fields.get(name)
        if not field:
            continue
        if field.type in ('many2many', 'one2many'):
            value = [(6, 0, value or [])]
        values[name] = value
    return values
