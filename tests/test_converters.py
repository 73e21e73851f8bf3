# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo.tests import BaseCase, tagged

from ..connectors import converters as c


@tagged('crm_migration')
class TestConverters(BaseCase):

    def test_dates(self):
        self.assertEqual(c.parse_date('23/04/1985'), datetime.date(1985, 4, 23))
        self.assertEqual(c.parse_date('04/23/1985'), datetime.date(1985, 4, 23))
        self.assertEqual(c.parse_date('03/04/2024', day_first=True), datetime.date(2024, 4, 3))
        self.assertEqual(c.parse_date('03/04/2024', day_first=False), datetime.date(2024, 3, 4))
        self.assertEqual(c.parse_date('2024-03-04T10:00:00Z'), datetime.date(2024, 3, 4))
        self.assertEqual(c.parse_date('3 Mar 2024'), datetime.date(2024, 3, 3))
        self.assertEqual(c.parse_date('March 3, 2024'), datetime.date(2024, 3, 3))
        self.assertEqual(c.parse_date('31.12.79'), datetime.date(1979, 12, 31))
        self.assertEqual(c.parse_date('45292'), datetime.date(2024, 1, 1), "Excel serial in a CSV")
        with self.assertRaisesRegex(ValueError, 'ambiguous'):
            c.parse_date('03/04/2024')
        with self.assertRaisesRegex(ValueError, 'not a valid date'):
            c.parse_date('31/02/1980')
        with self.assertRaisesRegex(ValueError, 'not a date'):
            c.parse_date('soon')

    def test_datetimes_to_utc(self):
        self.assertEqual(c.parse_datetime('03/02/2025 09:30', True, 'Australia/Sydney'),
                         datetime.datetime(2025, 2, 2, 22, 30))
        self.assertEqual(c.parse_datetime('2025-07-01 9:30 PM', None, 'Europe/London'),
                         datetime.datetime(2025, 7, 1, 20, 30))
        self.assertEqual(c.parse_datetime('2025-07-01T09:30:00+02:00', None, 'Australia/Sydney'),
                         datetime.datetime(2025, 7, 1, 7, 30), "an explicit offset wins over the source tz")
        self.assertEqual(c.parse_datetime('2025-03-30 02:30', None, 'Europe/Paris'),
                         datetime.datetime(2025, 3, 30, 1, 30), "DST gap: standard time")
        with self.assertRaises(ValueError):
            c.parse_datetime('2025-07-01 25:00', None, 'UTC')

    def test_numbers(self):
        self.assertEqual(c.parse_number('1,234.50'), 1234.5)
        self.assertEqual(c.parse_number('1.234,50'), 1234.5)
        self.assertEqual(c.parse_number('12,50'), 12.5)
        self.assertEqual(c.parse_number('1,234'), 1234.0)
        self.assertEqual(c.parse_number('1,234', decimal_comma=True), 1.234)
        self.assertEqual(c.parse_number('(12.50)'), -12.5)
        self.assertEqual(c.parse_number('$ 1 234,5'), 1234.5)
        self.assertEqual(c.parse_number('€-3'), -3.0)
        self.assertEqual(c.parse_integer('7'), 7)
        with self.assertRaises(ValueError):
            c.parse_number('12 apples 3')
        with self.assertRaises(ValueError):
            c.parse_integer('7.5')

    def test_bool_email_phones(self):
        self.assertTrue(c.parse_bool('Yes'))
        self.assertFalse(c.parse_bool('0'))
        with self.assertRaises(ValueError):
            c.parse_bool('maybe')
        self.assertEqual(c.clean_email(' <Ann@Example.com> '), 'Ann@Example.com')
        with self.assertRaises(ValueError):
            c.clean_email('ann at example')
        self.assertEqual(c.split_phones(['02 9333 3333 / 0411 111 111', '+61 2 1234, +61 3 5678', '']),
                         ['02 9333 3333', '0411 111 111', '+61 2 1234', '+61 3 5678'])

    def test_infer_type(self):
        self.assertEqual(c.infer_type(['GP', 'Web', 'GP', 'Web']), ('selection', ['GP', 'Web']))
        self.assertEqual(c.infer_type(['23/04/1985', '05/11/1990']), ('date', []))
        self.assertEqual(c.infer_type(['2024-01-01 10:00', '2024-01-02 11:00']), ('datetime', []))
        self.assertEqual(c.infer_type(['12', '7', '30']), ('integer', []))
        self.assertEqual(c.infer_type(['1.5', '2.25', '3.0']), ('float', []))
        self.assertEqual(c.infer_type(['0412 345 678', '0498 765 432']), ('char', []))
        self.assertEqual(c.infer_type(['02000', '02001', '03000']), ('char', []), "leading zeros stay text")
        self.assertEqual(c.infer_type(['yes', 'no', 'yes', 'no']), ('boolean', []))
        self.assertEqual(c.infer_type(['x' * 300]), ('text', []))
        self.assertEqual(c.infer_type(['Alice', 'Bob', 'Carol']), ('char', []))
        self.assertEqual(c.infer_type([]), ('char', []))

    def test_profile_tells_phones_from_addresses_and_dates(self):
        from ..connectors import proposal
        self.assertEqual(proposal.profile(['0411 111 111', '+61 2 9000 0001'])['phones'], 1.0)
        self.assertEqual(proposal.profile(['203.0.113.9', '10.0.0.1'])['phones'], 0.0)
        self.assertEqual(proposal.profile(['03/04/2024', '2024-04-03'])['phones'], 0.0)
