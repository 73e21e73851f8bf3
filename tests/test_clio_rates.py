# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Clio's rate hierarchy reduced to a most-used rate per client (pure, no Odoo data)."""
from odoo.tests import BaseCase, tagged

from ..connectors import clio_rates


def rate(ident, amount, contact=None, co_counsel=None, user=None, group=None, flat=False):
    return {'id': ident, 'rate': amount, 'flat_rate': flat, 'contact_id': contact or '',
            'co_counsel_contact_id': co_counsel or '', 'user_id': user and user[0] or '',
            'user_name': user and user[1] or '', 'group_id': group and group[0] or '',
            'group_name': group and group[1] or ''}


@tagged('crm_migration', 'post_install', '-at_install')
class TestClioRates(BaseCase):

    def test_most_used_rate_wins_and_a_tie_takes_the_highest(self):
        rows = [rate(1, '200', contact=7, user=(1, 'Ann')), rate(2, '350.0', contact=7, user=(2, 'Ben')),
                rate(3, 'abc', contact=7, user=(3, 'Cy')),  # unreadable amount: not a rate
                rate(4, 120, contact=8, group=(9, 'Everyone')), rate(5, 120, contact=8, user=(1, 'Ann')),
                rate(6, 900, contact=8, user=(2, 'Ben'), flat=True)]
        summaries = clio_rates.client_rates(rows)
        self.assertEqual({client: (s['rate'], s['flat_rate'], s['count']) for client, s in summaries.items()},
                         {'7': (350.0, False, 2), '8': (120.0, False, 3)})
        self.assertEqual(summaries['8']['detail'], 'group Everyone: 120/h\nuser Ann: 120/h\nuser Ben: 900 flat')

    def test_co_counsel_rates_are_kept_apart(self):
        rows = [rate(1, 180, co_counsel=5, user=(2, 'Ben')), rate(2, 180, contact=5, co_counsel=6)]
        self.assertEqual(clio_rates.client_rates(rows), {})
        blueprint = clio_rates.hierarchy(rates=rows)
        self.assertEqual(blueprint['client_rates'], [])
        self.assertEqual([c['co_counsel_id'] for c in blueprint['co_counsel_rates']], ['5', '6'])
