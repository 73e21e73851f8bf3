# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo.tests import BaseCase, tagged

from ..connectors import mapper as m


def spec(target, ttype='char', sources=('a',), **kwargs):
    return m.FieldSpec(target=target, ttype=ttype, sources=tuple(sources), **kwargs)


@tagged('crm_migration')
class TestMapper(BaseCase):

    def test_concat_phones_dates(self):
        mapper = m.Mapper([
            spec('name', sources=('first', 'last'), transform='concat'),
            spec('phone', sources=('home', 'mobile'), transform='first_phone'),
            spec('x_more', sources=('home', 'mobile'), transform='other_phones'),
            spec('x_dob', 'date', sources=('dob',)),
            spec('x_at', 'datetime', sources=('at',)),
        ], day_first=True, tz='Europe/Paris')
        values, problems = mapper.map_row({'first': 'Ann', 'last': ' Lee ', 'home': '01 02; 03 04',
                                           'mobile': '06 07', 'dob': '01/02/1990', 'at': '01/07/2024 10:00'})
        self.assertEqual(problems, [])
        self.assertEqual(values, {
            'name': 'Ann Lee', 'phone': '01 02', 'x_more': '03 04, 06 07',
            'x_dob': datetime.date(1990, 2, 1), 'x_at': datetime.datetime(2024, 7, 1, 8, 0)})

    def test_value_map_default_required_and_single_report(self):
        mapper = m.Mapper([
            spec('stage_id', 'many2one', sources=('status',), transform='value_map',
                 value_map={'Completed': 'crm.stage_lead4'}, relation='crm.stage', required=True),
            spec('active', 'boolean', sources=('status',), transform='value_map', value_map={'completed': '1'}),
            spec('activity.activity_type_id', 'many2one', sources=('type',), transform='value_map',
                 value_map={'phone': 'mail.mail_activity_data_call'}, default='mail.mail_activity_data_meeting',
                 relation='mail.activity.type'),
        ])
        values, problems = mapper.map_row({'status': ' completed ', 'type': 'Phone'})
        self.assertEqual(values['stage_id'], m.NameRef('crm.stage', 'crm.stage_lead4'))
        self.assertIs(values['active'], True)
        self.assertEqual(
            values['activity.activity_type_id'], m.NameRef('mail.activity.type', 'mail.mail_activity_data_call')
        )
        values, problems = mapper.map_row({'status': 'Tentative', 'type': 'Massage'})
        blocking = [p for p in problems if p.blocking]
        self.assertEqual(len(blocking), 1, "one unknown status is reported once, not per target")
        self.assertIn("no mapping for 'Tentative'", blocking[0].message)
        warning = [p for p in problems if not p.blocking]
        self.assertIn("used the default", warning[0].message)
        self.assertEqual(values['activity.activity_type_id'].name, 'mail.mail_activity_data_meeting')
        _values, problems = mapper.map_row({'status': '', 'type': ''})
        self.assertIn('required', problems[0].message)

    def test_refs_selection_html_and_errors(self):
        mapper = m.Mapper([
            spec('x_patient', 'many2one', sources=('pid',), transform='lookup', lookup_object='patients'),
            spec('user_id', 'many2one', sources=('owner',), transform='user'),
            spec('datas', 'binary', sources=('file',), transform='file'),
            spec('x_kind', 'selection', sources=('kind',), selection=(('gp', 'GP'), ('web', 'Website'))),
            spec('description', 'html', sources=('note',)),
            spec('tag_ids', 'many2many', sources=('tags',), relation='crm.tag'),
            spec('x_n', 'integer', sources=('n',)),
            spec('email_from', sources=('mail',), transform='email'),
        ])
        values, problems = mapper.map_row({'pid': 'P1', 'owner': 'a@b.c', 'file': 'x.pdf', 'kind': 'website',
                                           'note': '<b>1 < 2</b>\nok', 'tags': 'VIP; New', 'n': '3',
                                           'mail': 'ann@example.com'})
        self.assertEqual(problems, [])
        self.assertEqual(values['x_patient'], m.LookupRef('patients', 'P1'))
        self.assertEqual(values['user_id'], m.UserRef('a@b.c'))
        self.assertEqual(values['datas'], m.FileRef('x.pdf'))
        self.assertEqual(values['x_kind'], 'web')
        self.assertEqual(values['description'], '<p>&lt;b&gt;1 &lt; 2&lt;/b&gt;<br/>ok</p>', "escaped, never raw HTML")
        self.assertEqual(values['tag_ids'], [m.NameRef('crm.tag', 'VIP'), m.NameRef('crm.tag', 'New')])
        _values, problems = mapper.map_row({'kind': 'Other', 'n': 'three', 'mail': 'nope', '_errors': ['bad line']})
        messages = ' | '.join(p.message for p in problems)
        self.assertIn("'Other' is not one of gp, web", messages)
        self.assertIn("'three' is not a number", messages)
        self.assertIn("'nope' is not an e-mail address", messages)
        self.assertIn('bad line', messages)
        self.assertTrue(all(p.blocking for p in problems))

    def test_is_set_and_is_empty(self):
        mapper = m.Mapper([
            spec('active', 'boolean', sources=('archived_at',), transform='is_empty'),
            spec('x_cancelled', 'boolean', sources=('cancelled_at',), transform='is_set'),
        ])
        values, problems = mapper.map_row({'archived_at': '', 'cancelled_at': '2025-01-02T10:00:00Z'})
        self.assertEqual((values, problems), ({'active': True, 'x_cancelled': True}, []))
        values, _problems = mapper.map_row({'archived_at': '2025-01-02', 'cancelled_at': None})
        self.assertEqual(values, {'active': False, 'x_cancelled': False})

    def test_lookup_of_joined_ids(self):
        mapper = m.Mapper([
            spec('x_matter_id', 'many2one', sources=('matters_id',), transform='lookup', lookup_object='matters'),
            spec('x_matter_ids', 'many2many', sources=('matters_id',), transform='lookup', lookup_object='matters'),
        ])
        values, problems = mapper.map_row({'matters_id': '700; 701'})
        self.assertEqual(problems, [])
        self.assertEqual(values['x_matter_id'], m.LookupRef('matters', '700'))
        self.assertEqual(values['x_matter_ids'], [m.LookupRef('matters', '700'), m.LookupRef('matters', '701')])

    def test_duration_between_two_date_times(self):
        mapper = m.Mapper([spec('x_minutes', 'integer', sources=('starts_at', 'ends_at'), transform='duration')],
                          tz='Australia/Melbourne')
        values, problems = mapper.map_row({'starts_at': '2016-07-21T03:45:00Z', 'ends_at': '2016-07-21T04:30:00Z'})
        self.assertEqual((values, problems), ({'x_minutes': 45}, []))
        # A local end against a UTC start: both are read in their own zone first.
        values, _problems = mapper.map_row({'starts_at': '2016-07-21T03:45:00Z', 'ends_at': '2016-07-21 15:00'})
        self.assertEqual(values, {'x_minutes': 75})
        values, _problems = mapper.map_row({'starts_at': '2016-07-21T03:45:00Z', 'ends_at': ''})
        self.assertEqual(values, {'x_minutes': None}, "no end, no length")
        values, problems = mapper.map_row({'starts_at': '2016-07-21T05:00:00Z', 'ends_at': '2016-07-21T04:30:00Z'})
        self.assertEqual((values, problems), ({'x_minutes': -30}, []),
                         "a row ending before it starts is decided with the whole row, not lost here")

    def test_selection_labels_before_numbered_keys(self):
        mapper = m.Mapper([spec('x_grade', 'selection', selection=(('a', 'A+'), ('a_2', 'A-'), ('a_3', 'A')))])
        self.assertEqual([mapper.map_row({'a': value})[0]['x_grade'] for value in ('A', 'a-', 'A+', 'a_2')],
                         ['a_3', 'a_2', 'a', 'a_2'])
        mapper = m.Mapper(
            [spec('x_band', 'selection', selection=(('10k', '< 10k'), ('10k_2', '10k'), ('10k_3', '> 10k')))]
        )
        self.assertEqual([mapper.map_row({'a': value})[0]['x_band'] for value in ('10k', '< 10k', '10k_3')],
                         ['10k_2', '10k', '10k_3'], "a label wins over another option's key")
