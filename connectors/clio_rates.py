# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Clio's rate hierarchy, reduced to what Odoo pricelists can hold (seed 002, "Rate Hierarchy").

Clio resolves a time entry's rate through, from the strongest: a rate typed on
the entry, a flat rate, the matter's custom rate, the client's rate, the
activity category's rate, the user's default rate (Clio help centre, "Rates
and Rate Hierarchies").  Odoo prices by pricelist and product, with no user
dimension, so the seed keeps "the most-used rate" per client as a pricelist and
exports the whole structure as JSON for the administrator to rebuild the rest.

A client's ActivityRate records (``GET /activity_rates.json``) carry one rate
per user or group.  The most-used rate is the one most of them share; on a
tie the highest wins, the way Clio itself picks between two applicable groups.
"""
import collections

from .converters import is_empty


def _amount(value):
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None


def _is_true(value):
    return str(value).strip().lower() in ('true', '1', 'yes')


def _holder(row):
    """Who a rate applies to: a user, a group (the whole firm is a group), or nobody named."""
    if not is_empty(row.get('user_id')):
        return 'user %s' % (row.get('user_name') or row.get('user_id'))
    if not is_empty(row.get('group_id')):
        return 'group %s' % (row.get('group_name') or row.get('group_id'))
    return 'everyone'


def client_rates(rate_rows):
    """``{client id: summary}`` of the flattened ActivityRate rows of each client.

    A summary has ``rate`` (the most-used one), ``flat_rate``, ``count`` and
    ``detail`` (every rate, one ``holder: amount/h`` per line).  Co-counsel rates
    (``co_counsel_contact_id``) are the rates *of* a co-counsel, not of a client:
    they stay in the JSON export only.
    """
    by_client = collections.defaultdict(list)
    for row in rate_rows:
        client = str(row.get('contact_id') or '').strip()
        amount = _amount(row.get('rate'))
        if client and amount is not None and is_empty(row.get('co_counsel_contact_id')):
            by_client[client].append((amount, _is_true(row.get('flat_rate')), _holder(row)))
    summaries = {}
    for client, rates in by_client.items():
        usage = collections.Counter((amount, flat) for amount, flat, _holder_name in rates)
        (amount, flat), _uses = max(usage.items(), key=lambda item: (item[1], item[0][0]))
        summaries[client] = {
            'rate': amount,
            'flat_rate': flat,
            'count': len(rates),
            'detail': '\n'.join('%s: %s%s' % (holder, _money(a), ' flat' if f else '/h')
                                for a, f, holder in sorted(rates, key=lambda r: r[2])),
        }
    return summaries


def _money(amount):
    return ('%.2f' % amount).rstrip('0').rstrip('.')


def hierarchy(users=(), descriptions=(), rates=()):
    """The full rate structure as a JSON-able blueprint, strongest level first."""
    def rate_entry(row):
        return {'rate': _amount(row.get('rate')), 'flat_rate': _is_true(row.get('flat_rate')),
                'applies_to': _holder(row), 'clio_id': str(row.get('id') or '')}

    clients = collections.defaultdict(list)
    co_counsel = collections.defaultdict(list)
    for row in rates:
        if not is_empty(row.get('co_counsel_contact_id')):
            co_counsel[str(row['co_counsel_contact_id'])].append(rate_entry(row))
        elif not is_empty(row.get('contact_id')):
            clients[str(row['contact_id'])].append(rate_entry(row))
    most_used = client_rates(rates)
    return {
        'order': ['time entry', 'flat rate', 'matter', 'client', 'activity', 'user default'],
        'matter_rates': 'not read: Clio keeps them on each matter (custom_rate); rebuild from the matters',
        'client_rates': [{'client_id': client, 'rates': entries,
                          'migrated_as': {'pricelist_fixed_price': most_used[client]['rate'],
                                          'flat_rate': most_used[client]['flat_rate']} if client in most_used else None}
                         for client, entries in sorted(clients.items())],
        'co_counsel_rates': [{'co_counsel_id': contact, 'rates': entries}
                             for contact, entries in sorted(co_counsel.items())],
        'activity_rates': [{'activity': row.get('name'), 'clio_id': str(row.get('id') or ''),
                            'rate': _amount(row.get('rate_amount')),
                            'non_billable_rate': _amount(row.get('rate_non_billable_amount')),
                            'rate_type': row.get('rate_type') or None, 'hierarchy': row.get('rate_hierarchy') or None}
                           for row in descriptions if _amount(row.get('rate_amount')) is not None],
        'user_default_rates': [{'user': row.get('name') or row.get('email'), 'email': row.get('email') or None,
                                'rate': _amount(row.get('rate'))}
                               for row in users if _amount(row.get('rate')) is not None],
    }
