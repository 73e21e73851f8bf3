# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Undo a migration from the link table only, in reverse dependency order.

Whole project: created records are deleted, records that existed before the
migration get their first recorded values back.  One run: what that run
created is deleted, what it changed on records of earlier runs gets the
values from just before that run.  Nothing is searched by date or name: a
record the migration did not record is never touched, and a record somebody
changed after the migration wrote it is kept and listed unless the rollback
is forced.
"""
import itertools
import logging

from odoo.tools import SQL

from .constants import LIVE_OPERATIONS
from .loader import IMPORT_CONTEXT, ROW_ERRORS, _error_message

_logger = logging.getLogger(__name__)


def rollback_domain(run, obj):
    domain = [('object_id', '=', obj.id), ('operation', 'in', LIVE_OPERATIONS)]
    if run.rollback_of_id:
        domain.append(('run_id', '=', run.rollback_of_id.id))
    return domain


def hold_edited_records(run, objects, reset=True):
    """Flag the records a user changed after the migration wrote them, before anything is undone.

    Checked up front because the rollback's own deletions change records
    (a deleted contact empties the lead's customer field), which would
    erase the evidence of a user's edit.
    """
    Record = run.env['crm.migration.record']
    held = 0
    for obj in objects:
        links = Record.search(rollback_domain(run, obj))
        if reset:
            links.filtered('rollback_hold').rollback_hold = False
        else:
            # Later steps only add holds: an edit seen before stays seen, and the
            # records already done are not links of this domain any more.
            links = links.filtered(lambda rec: not rec.rollback_hold)
        by_model = {}
        for link in links:
            by_model.setdefault(link.res_model, []).append(link)
        for model, model_links in by_model.items():
            if model not in run.env or 'write_date' not in run.env[model]._fields:
                continue
            Model = run.env[model].with_context(active_test=False)
            for start in range(0, len(model_links), 1000):
                chunk = model_links[start:start + 1000]
                stamps = {row['id']: row for row in Model.browse([rec.res_id for rec in chunk]).exists().read(
                    ['write_date', 'write_uid'])}
                for link in chunk:
                    stamp = stamps.get(link.res_id)
                    if stamp and _edited_after(link, stamp, run):
                        link.write({'rollback_hold': True, 'message': run.env._(
                            "Kept by the rollback: changed by %(user)s on %(date)s, after the migration wrote "
                            "it. Force the rollback to undo it anyway.",
                            user=stamp['write_uid'][1], date=stamp['write_date'])})
                        held += 1
    return held


def rollback_batch(run, obj, limit):
    """Undo up to ``limit`` records of ``obj``, newest first; return ``(processed, counts)``.

    Newest write first (``write_seq``): a contact or a stage the migration made for
    a record goes after it, even when the record's link row is older.  The cursor
    ``run.offset`` holds the lowest sequence done so far, so a record that is kept
    or cannot be undone is reported once, not retried forever.
    """
    Record = run.env['crm.migration.record']
    domain = rollback_domain(run, obj)
    if run.offset:
        domain.append(('write_seq', '<', run.offset))
    records = Record.search(domain, order='write_seq desc, id desc', limit=limit)
    counts = {'removed': 0, 'restored': 0, 'kept': 0, 'failed': 0}
    # Newest first: an activity or a contact made for a lead goes before the lead.  Consecutive
    # plain deletions of one model go in one unlink(): one record at a time made a large
    # rollback quadratic (each unlink invalidates the cache and re-checks its references).
    for bulk, group in itertools.groupby(records, key=lambda r: (r.res_model, _bulk_deletable(run, r))):
        links = Record.browse([link.id for link in group])
        if bulk[1] and len(links) > 1:
            _undo_bulk(run, links, counts)
        else:
            for record in links:
                _undo_one(run, record, counts)
    if records:
        run.offset = records[-1].write_seq
    return len(records), counts


# Deleting these runs state changes first (posted entries, confirmed orders, audit trail):
# they keep the one-by-one path of _undo.
_STATEFUL_MODELS = ('account.move', 'account.move.line', 'account.payment', 'sale.order', 'sale.order.line')
# Records of those models are undone one by one, at ~0.2 s each on a busy server: a batch of
# 500 order lines took 100 s, and the time box is only checked between batches, so a prefork
# cron worker was killed at limit_time_real (bench/rollback_limits.sh).  Their batches are smaller.
ONE_BY_ONE_BATCH = 50


def batch_limit(obj, size):
    """How many records of ``obj`` one rollback batch undoes."""
    return min(size, ONE_BY_ONE_BATCH) if obj.target_model in _STATEFUL_MODELS else size


def _bulk_deletable(run, record):
    of_run = run.rollback_of_id
    return (record.operation == 'created' and record.res_model in run.env
            and record.res_model not in _STATEFUL_MODELS
            and not (of_run and record.created_run_id and record.created_run_id != of_run))


def _undo_bulk(run, links, counts):
    """One unlink() for a run of created records of one model; on any error, one by one."""
    env = run.env
    model = links[0].res_model
    edited = _edited_now(run, links)
    kept = links.filtered(lambda rec: not run.force and (rec.rollback_hold or rec.id in edited))
    _hold(run, kept, edited)
    todo = links - kept
    Model = env[model].with_context(**IMPORT_CONTEXT, active_test=False)
    try:
        with env.cr.savepoint():
            Model.browse(todo.mapped('res_id')).exists().with_context(force_delete=True).unlink()
    except ROW_ERRORS:
        # The savepoint undid the whole group: isolate the record that cannot go.
        for record in todo:
            _undo_one(run, record, counts)
        counts['kept'] += len(kept)
        return
    todo.write({'operation': 'rolled_back', 'run_id': run.id, 'synced_at': env.cr.now(),
                'message': env._("Removed by rollback"), 'rollback_hold': False,
                'checksum': False, 'before_values': False, 'previous_values': False})
    counts['removed'] += len(todo)
    counts['kept'] += len(kept)


def _edited_now(run, links):
    """Ids of the links whose record a user changed since the migration wrote it, checked
    under a row lock in the transaction that undoes them: an edit committed while the
    rollback runs (after its up-front pass) is seen, and none can slip in before the undo."""
    env = run.env
    model = links[0].res_model
    if run.force or model not in env:
        return {}
    Model = env[model]
    if Model._abstract or not Model._table or 'write_date' not in Model._fields:
        return {}
    Model.flush_model(['write_date', 'write_uid'])
    env.cr.execute(SQL("SELECT id, write_date, write_uid FROM %s WHERE id IN %s FOR UPDATE",
                       SQL.identifier(Model._table), tuple(set(links.mapped('res_id')))))
    stamps = {row[0]: row[1:] for row in env.cr.fetchall()}
    edited = {}
    for link in links:
        write_date, write_uid = stamps.get(link.res_id, (None, None))
        if write_date and write_uid and link.synced_at and _is_user_edit(run, link, write_date, write_uid):
            edited[link.id] = (write_date, write_uid)
    return edited


def _hold(run, links, edited):
    env = run.env
    users = env['res.users'].browse({uid for _date, uid in edited.values()}).sudo()
    names = {user.id: user.display_name for user in users}
    for link in links.filtered(lambda rec: rec.id in edited):
        write_date, write_uid = edited[link.id]
        link.write({'rollback_hold': True, 'message': env._(
            "Kept by the rollback: changed by %(user)s on %(date)s, after the migration wrote "
            "it. Force the rollback to undo it anyway.", user=names.get(write_uid, write_uid), date=write_date)})


def _undo_one(run, record, counts):
    env = run.env
    try:
        with env.cr.savepoint():
            outcome = _undo(run, record)
    except ROW_ERRORS as error:
        if record.operation == 'created' and _archive_instead(run, record, error):
            counts['kept'] += 1
            return
        counts['failed'] += 1
        record.message = env._("Rollback failed: %s", _error_message(error))
        return
    counts[outcome] += 1


def _archive_instead(run, record, error):
    """A created record other data still points to (an invoice a user made since, an entry
    the audit trail keeps) cannot be deleted: archive it, keep it linked, say why."""
    env = run.env
    if record.res_model not in env or 'active' not in env[record.res_model]._fields:
        return False
    target = env[record.res_model].with_context(**IMPORT_CONTEXT, active_test=False).browse(record.res_id).exists()
    if not target:
        return False
    try:
        with env.cr.savepoint():
            target.active = False
    except ROW_ERRORS:
        return False
    record.message = env._("Archived instead of removed: other records still refer to it (%s). It stays linked: "
                           "a new run uses it again.", _error_message(error).splitlines()[0])
    return True


def _undo(run, record):
    env = run.env
    target = None
    if record.res_model in env:
        target = env[record.res_model].with_context(**IMPORT_CONTEXT, active_test=False).browse(record.res_id).exists()
    if record.rollback_hold and not run.force:
        return 'kept'
    edited = _edited_now(run, record)
    if edited:
        _hold(run, record, edited)
        return 'kept'
    record.rollback_hold = False
    of_run = run.rollback_of_id
    if of_run and record.created_run_id and record.created_run_id != of_run:
        # An earlier run made this record; the rolled-back run only changed it.
        if target and record.previous_values:
            target.write(_restorable(target, record.previous_values))
        record.write({'run_id': record.created_run_id.id, 'previous_values': False, 'checksum': False,
                      'synced_at': env.cr.now(), 'message': env._("Changes of %s undone", of_run.display_name)})
        return 'restored'
    if record.operation == 'created':
        outcome, message = 'removed', env._("Removed by rollback")
        if target and target._name == 'account.move.line' and target.move_id.posted_before \
                and target.company_id.restrictive_audit_trail:
            # The line goes with its entry, which the audit trail keeps (cancelled).
            message = env._("Kept with its cancelled entry (the company's audit trail keeps posted entries)")
        elif target and target._name == 'account.move' and target.posted_before \
                and target.company_id.restrictive_audit_trail:
            # The company keeps every posted entry: cancel it, as an accountant would.
            target.filtered(lambda m: m.state == 'posted').button_draft()
            target.button_cancel()
            message = env._("Cancelled by rollback (the company's audit trail keeps posted entries)")
        elif target:
            _before_unlink(record, target)
            # Entries the migration posted consumed sequence numbers: Odoo's own
            # force_delete lets them go without a gap check (they are ours).
            target.with_context(force_delete=True).unlink()
    else:
        if target and record.operation in ('updated', 'linked') and record.before_values:
            target.write(_restorable(target, record.before_values))
        outcome, message = 'restored', env._("Previous values restored by rollback")
    # What the record held before is given back: a later run that writes it again
    # keeps fresh originals, not these.
    record.write({'operation': 'rolled_back', 'run_id': run.id, 'synced_at': env.cr.now(), 'message': message,
                  'checksum': False, 'before_values': False, 'previous_values': False})
    return outcome


def _edited_after(link, stamp, run):
    """True when somebody other than the migration wrote the record after it did."""
    if not stamp['write_date'] or not link.synced_at or not stamp['write_uid']:
        return False
    return _is_user_edit(run, link, stamp['write_date'], stamp['write_uid'][0])


def _is_user_edit(run, link, write_date, write_uid):
    writer = link.synced_uid or link.write_uid  # who ran the migration's write
    # This rollback's own earlier steps rewrite records too (a removed contact empties its lead).
    ours = write_uid == run.env.uid and run.date_start and write_date >= run.date_start
    return write_date > link.synced_at and write_uid != writer.id and not ours


def _before_unlink(record, target):
    """Odoo refuses to delete posted invoices and payments, and confirmed orders and
    their lines: undo the state the migration gave them first."""
    if target._name in ('account.move', 'account.payment'):
        posted = target.filtered(lambda r: r.state not in ('draft', 'cancel'))
        if posted:
            posted.button_draft() if target._name == 'account.move' else posted.action_draft()
        return
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
