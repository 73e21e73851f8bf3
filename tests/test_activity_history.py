# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Past appointments marked done for a whole batch give the messages Odoo's ``_action_done`` gives."""
import datetime

from odoo.tests import TransactionCase, new_test_user, tagged

from ..services import activity_history

# What a done message says and where it hangs; ids and the record aside.
COMPARED = ('body', 'message_type', 'subtype_id', 'mail_activity_type_id', 'author_id', 'email_from', 'reply_to',
            'record_alias_domain_id', 'record_company_id', 'subject', 'email_add_signature', 'date', 'model',
            'partner_ids', 'attachment_ids', 'notification_ids')


@tagged('crm_migration', 'post_install', '-at_install')
class TestActivityHistory(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.practitioner = new_test_user(cls.env, 'history_practitioner', groups='sales_team.group_sale_salesman',
                                         email='practitioner@clinic.test', name='Dr History')
        cls.meeting = cls.env.ref('mail.mail_activity_data_meeting')
        cls.Lead = cls.env['crm.lead'].with_context(tracking_disable=True, mail_create_nolog=True,
                                                    mail_create_nosubscribe=True)

    def _visits(self, label):
        """Two patients: one with a comment in its chatter and one visit, one with three visits."""
        # The same names on both sides: the activity's assignment notice quotes them.
        first, second = self.Lead.create([{'name': 'Patient one', 'description': label}, {'name': 'Patient two'}])
        first.message_post(body='Referred by Dr Who', message_type='comment', subtype_xmlid='mail.mt_note')
        moments = [datetime.datetime(2025, 2, 2, 22, 30), datetime.datetime(2025, 3, 1, 1, 0),
                   datetime.datetime(2025, 1, 5, 3, 15), datetime.datetime(2025, 4, 9, 6, 45)]
        records = [first, second, second, second]
        activities = self.env['mail.activity'].with_context(mail_create_nosubscribe=True).create([{
            'res_model_id': self.env['ir.model']._get_id('crm.lead'), 'res_id': record.id,
            'activity_type_id': self.meeting.id, 'summary': 'Visit %d' % index, 'note': '<p>Knee</p>',
            'user_id': self.practitioner.id, 'date_deadline': moment.date(),
        } for index, (record, moment) in enumerate(zip(records, moments, strict=True))])
        return first | second, list(zip(activities, moments, strict=True))

    def _odoo_way(self, done):
        """What the loader did before: Odoo's own _action_done, one activity at a time."""
        for activity, moment in done:
            messages, _next = activity._action_done()
            messages.sudo().write({'date': moment, 'author_id': activity.user_id.partner_id.id})
            activity.date_done = moment.date()

    def _history(self, leads):
        messages = self.env['mail.message'].search([('model', '=', 'crm.lead'), ('res_id', 'in', leads.ids),
                                                    ('mail_activity_type_id', '!=', False)], order='id')
        rows = []
        for message in messages:
            row = {name: message[name] for name in COMPARED}
            row['notification_ids'] = len(message.notification_ids)
            row['lead'] = leads.ids.index(message.res_id)
            # A done parent by its visit's date; the comment by its kind (posted "now" on each side).
            parent = message.parent_id
            row['parent'] = (leads.ids.index(parent.res_id), parent.message_type,
                             parent.date if parent.mail_activity_type_id else None) if parent else None
            rows.append(row)
        return rows

    def test_batch_gives_the_messages_of_action_done(self):
        self.maxDiff = None
        odoo_leads, odoo_done = self._visits('Odoo')
        fast_leads, fast_done = self._visits('Fast')
        self._odoo_way(odoo_done)
        with self.assertQueryCount(__system__=60):
            activity_history.mark_done(self.env, fast_done)
        expected, got = self._history(odoo_leads), self._history(fast_leads)
        self.assertEqual(len(got), 4, "four done messages")
        # The first patient's visit hangs below its comment; the second's later visits below its
        # latest-dated visit (its first has nothing to hang below: notices to users don't count).
        self.assertEqual([row['parent'] and row['parent'][1] for row in got],
                         ['comment', None, 'notification', 'notification'])
        self.assertEqual(got, expected)
        for (odoo_activity, _m), (fast_activity, _n) in zip(odoo_done, fast_done, strict=True):
            self.assertFalse(fast_activity.active)
            self.assertEqual(fast_activity.date_done, odoo_activity.date_done)

    def test_followed_record_takes_odoo_path(self):
        """A record somebody follows gets its notifications: that is Odoo's own path."""
        leads, done = self._visits('Followed')
        follower = new_test_user(self.env, 'history_follower', groups='sales_team.group_sale_salesman',
                                 email='follower@clinic.test')
        leads[1].message_subscribe(partner_ids=follower.partner_id.ids,
                                   subtype_ids=self.env.ref('mail.mt_activities').ids)
        slow = activity_history._needs_odoo_path(self.env, self.env['mail.activity'].browse(
            [activity.id for activity, _m in done]))
        self.assertEqual(slow, {activity.id for activity, _m in done if activity.res_id == leads[1].id})
        activity_history.mark_done(self.env, done)
        notified = self.env['mail.notification'].search([('res_partner_id', '=', follower.partner_id.id)])
        self.assertEqual(len(notified), 3, "each visit of the followed patient reaches its follower")
        self.assertFalse(any(activity.active for activity, _m in done))
