# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Past appointments marked done for a whole batch, as ``mail.activity._action_done`` marks them.

Odoo's ``_action_done`` posts its "... done" message through ``message_post``, one
activity at a time: about 25 queries and 20 ms each (the thread's last message as
parent, reply-to, followers to notify), three quarters of a clinic migration's time.
For migrated records nobody follows yet, the messages are built here with the values
``message_post`` would give them, in one ``create()`` for the batch.  Anything that
needs more of Odoo's path (followers subscribed to activities, attachments to move, an activity type
that chains a next activity) takes that path, one activity at a time, as before.

A message keeps the moment the appointment took place and its practitioner as
author: the history reads as if the activity had been done then, by them.
"""
from collections import defaultdict

from odoo.tools import SQL, clean_context

DONE_TEMPLATE = 'mail.message_activity_done'


def mark_done(env, done):
    """Mark each ``(activity, moment)`` of ``done`` done at ``moment`` (naive UTC)."""
    if not done:
        return
    activities = env['mail.activity'].browse([activity.id for activity, _moment in done])
    slow = _needs_odoo_path(env, activities)
    fast = [(activity, moment) for activity, moment in done if activity.id not in slow]
    for activity, moment in done:
        if activity.id in slow:
            messages, _next = activity._action_done()
            _stamp(messages, activity, moment)
            activity.date_done = moment.date()
    if fast:
        _post_done_messages(env, fast)
        archived = env['mail.activity'].browse([activity.id for activity, _moment in fast])
        archived.action_archive()
        by_day = defaultdict(list)
        for activity, moment in fast:
            by_day[moment.date()].append(activity.id)
        for day, ids in by_day.items():
            env['mail.activity'].browse(ids).date_done = day


def _stamp(messages, activity, moment):
    owner = activity.user_id.partner_id
    messages.sudo().write({'date': moment, 'author_id': owner.id or messages.author_id.id})


def _needs_odoo_path(env, activities):
    """Ids of the activities whose marking done does more than post a message and archive."""
    slow = {activity.id for activity in activities
            if activity.chaining_type == 'trigger' or not activity.res_model or not activity.res_id}
    with_attachments = env['ir.attachment'].sudo().search_fetch(
        [('res_model', '=', 'mail.activity'), ('res_id', 'in', activities.ids)], ['res_id'])
    slow.update(with_attachments.mapped('res_id'))
    by_model = defaultdict(set)
    for activity in activities:
        if activity.id not in slow:
            by_model[activity.res_model].add(activity.res_id)
    # Odoo notifies the followers subscribed to "Activities" (not a default subtype: the
    # practitioner an activity subscribes is not one of them unless they asked).
    subtype_id = env['ir.model.data']._xmlid_to_res_id('mail.mt_activities')
    followed = set()
    for model, res_ids in by_model.items():
        followers = env['mail.followers'].sudo().search_fetch(
            [('res_model', '=', model), ('res_id', 'in', list(res_ids)), ('subtype_ids', 'in', subtype_id)],
            ['res_id'])
        followed.update((model, res_id) for res_id in followers.mapped('res_id'))
    slow.update(activity.id for activity in activities if (activity.res_model, activity.res_id) in followed)
    return slow


def _post_done_messages(env, done):
    """The "... done" messages of ``done``, as ``message_post_with_source`` would post them."""
    view = env.ref(DONE_TEMPLATE)
    subtype_id = env['ir.model.data']._xmlid_to_res_id('mail.mt_activities')
    by_model = defaultdict(list)
    for activity, moment in done:
        by_model[activity.res_model].append((activity, moment))
    for model, pairs in by_model.items():
        records = env[model].sudo().browse(list(dict.fromkeys(activity.res_id for activity, _m in pairs)))
        author_id, email_from = records[:1]._message_compute_author(env.user.partner_id.id, None)
        alias_domains = records._mail_get_alias_domains(default_company=env.company)
        companies = records._mail_get_companies(default=env.company)
        reply_to = records._notify_get_reply_to(default=email_from, author_id=author_id)
        values_list = []
        # The template shows the activity only (type, assignee, summary, note), never the record:
        # a clinic's thousands of visits render a handful of distinct bodies.
        bodies = {}
        for activity, moment in pairs:
            res_id = activity.res_id
            shown = (activity.activity_type_id.id, activity.user_id.id, activity.summary, activity.note)
            if shown not in bodies:
                bodies[shown] = records.env['mail.render.mixin']._render_template_qweb_view(
                    view, model, [res_id], add_context={
                        'activity': activity, 'feedback': False,
                        'display_assignee': activity.user_id != env.user,
                    })[res_id]
            body = bodies[shown]
            values_list.append({
                'email_add_signature': True,
                'mail_activity_type_id': activity.activity_type_id.id,
                'author_id': activity.user_id.partner_id.id or author_id,
                'author_guest_id': False,
                'email_from': email_from,
                'model': model,
                'res_id': res_id,
                'body': body,
                'message_type': 'notification',
                'subject': False,
                'subtype_id': subtype_id,
                'partner_ids': [],
                'incoming_email_to': False,
                'incoming_email_cc': False,
                'outgoing_email_to': False,
                'record_alias_domain_id': alias_domains[res_id].id,
                'record_company_id': companies[res_id].id,
                'reply_to': reply_to[res_id],
                'date': moment,
            })
        messages = env['mail.message'].with_context(clean_context(env.context)).create(values_list)
        if records._mail_flat_thread:
            _link_parents(env, records, messages)
        for message, values in zip(messages, values_list, strict=True):
            records.browse(values['res_id'])._message_post_after_hook(message, values)


def _link_parents(env, records, messages):
    """Each new message's parent, as ``_message_compute_parent_id`` gives it when posting in turn.

    A notification hangs below the thread's best message: the last comment or e-mail,
    else the latest message by date.  Posting one after the other (each message dated
    when its appointment took place), an earlier message of the batch may be that one.
    """
    env.cr.execute("""
        SELECT res_id, id, message_type, date FROM mail_message
         WHERE model = %s AND res_id = ANY(%s) AND message_type != 'user_notification' AND NOT id = ANY(%s)
    """, [records._name, records.ids, messages.ids])
    best = {}
    for res_id, message_id, message_type, date in env.cr.fetchall():
        key = (message_type in ('comment', 'email'), date, message_id)
        best[res_id] = max(best.get(res_id, key), key)
    parents = []
    for message in messages.sorted('id'):
        current = best.get(message.res_id)
        parents.append((message.id, current[2] if current else None))
        key = (False, message.date, message.id)
        best[message.res_id] = max(current, key) if current else key
    linked = [(message_id, parent) for message_id, parent in parents if parent]
    if linked:
        # One statement for the batch: the column has no computed field hanging on it.
        env.cr.execute(SQL("UPDATE mail_message m SET parent_id = v.parent FROM (VALUES %s) AS v(id, parent) "
                           "WHERE m.id = v.id", SQL(', ').join(SQL('(%s, %s)', i, p) for i, p in linked)))
        env['mail.message'].invalidate_model(['parent_id', 'child_ids'])
