# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Issue 10, "Vendor APIs land every row": references audited before the run.

Each class serves a vendor account of ``vendor_servers`` changed the way a
real account differs from the fixtures: a source user no Odoo user answers,
an appointment both arrived and cancelled.  The project goes through the
audit, a person decides each issue, then the full run must land every row
(or skip it because the audit said so) and a rerun must update nothing.
"""
import datetime
from unittest.mock import patch

from odoo import fields
from odoo.tests import BaseCase, TransactionCase, tagged

from ..connectors import proposal
from ..connectors.api_clio import paid_amount, transaction_direction
from ..connectors.api_nocrm import NocrmSource
from .api_server import Reply
from .common import MigrationCaseMixin
from .test_api_migration import ApiMigrationCase
from .vendor_servers import ClinikoAccount, ClioAccount, DailyQuota, LargeNocrmAccount, NocrmAccount


class QuietNocrmAccount(NocrmAccount):
    """noCRM account whose leads 8114 and 8115 belong to user 99, who has no Odoo user.

    User shape: https://www.nocrm.io/api "Users" (id, email, firstname, lastname,
    is_admin, is_disabled), as in fixtures/api/nocrm/account.json.
    """

    OWNER = {'id': 99, 'email': 'ivo.nomad@seller.example', 'firstname': 'Ivo', 'lastname': 'Nomad',
             'is_admin': False, 'is_disabled': True, 'has_activated': True, 'locale': 'en',
             'time_zone': 'Europe/Paris', 'teams': []}

    def __init__(self):
        super().__init__()
        users = self.payload('users') + [dict(self.OWNER)]
        self.api.script('GET', '/api/v2/users', Reply(payload=users))
        # The pages' payload objects are shared by every route that serves them.
        self.leads[0][1]['user_id'] = 99
        self.leads[1][0]['user_id'] = 99

    def script_faults(self):
        """Faults are the business of test_api_migration: this account answers cleanly."""


class QuietClinikoAccount(ClinikoAccount):
    """Cliniko account with a locum practitioner (no Odoo user) on appointment 4, and rows
    whose values contradict each other: appointment 1 marked arrived *and* cancelled (reason
    50, "other"), appointment 4 and group appointment 1011 ending before they start, and a
    credit item (quantity -1) on invoice 108.

    Shapes: https://docs.api.cliniko.com/ "Practitioners", "Individual appointments"
    (patient_arrived, did_not_arrive, cancelled_at, cancellation_reason, starts_at, ends_at),
    "Group appointments" and "Invoice items" (quantity, unit_price, net_price, total_including_tax),
    as in fixtures/api/cliniko/account.json.
    """

    def __init__(self):
        super().__init__()
        inactive = self.payload('practitioners_inactive')
        inactive['practitioners'].append(self.payload('practitioner_without_odoo_user'))
        inactive['total_entries'] = len(inactive['practitioners'])
        self.api.script('GET', '/v1/practitioners/inactive', Reply(payload=inactive))
        appointments = self.payload('individual_appointments')
        for appointment in appointments['individual_appointments']:
            if appointment['id'] == 1:
                appointment.update(cancelled_at='2024-02-01T07:00:00Z', cancellation_reason=50)
            if appointment['id'] == 4:
                appointment['practitioner']['links']['self'] = self.api.url + '/v1/practitioners/3'
                appointment['ends_at'] = '2030-01-10T21:30:00Z'  # starts at 22:00
        self.api.script('GET', '/v1/individual_appointments', Reply(payload=appointments))
        groups = self.payload('group_appointments')
        groups['group_appointments'][0]['ends_at'] = '2024-03-05T21:00:00Z'  # starts at 22:00
        self.api.script('GET', '/v1/group_appointments', Reply(payload=groups))
        items = self.payload('invoice_items')
        credit = dict(items['invoice_items'][0], id=4, name='Concession refund', quantity=-1, unit_price='10.0',
                      net_price='-10.0', tax_amount='-1.0', total_including_tax='-11.0')
        credit['links'] = {'self': self.api.url + '/v1/invoice_items/4'}
        items['invoice_items'].append(credit)
        items['total_entries'] = len(items['invoice_items'])
        self.api.script('GET', '/v1/invoice_items', Reply(payload=items))

    def script_faults(self):
        """Faults are the business of test_api_migration: this account answers cleanly."""


class QuietClioAccount(ClioAccount):
    """Clio account whose bills say ``paid`` as a yes/no flag and whose trust ledger holds an entry
    typed "Trust transfer" (no direction word), signed by its amount only.

    Shapes: Clio Manage v4 OpenAPI (Bill: total, balance, paid; BankTransaction: amount,
    transaction_type, funds_in, funds_out, bank_account{id,name}), as in fixtures/api/clio/account.json.
    """

    def __init__(self):
        super().__init__()
        bills = self.payload('bills')
        for bill in bills['data']:
            bill['paid'] = bill['balance'] == 0
        self.api.script('GET', '/api/v4/bills.json', Reply(payload=bills))
        transactions = self.payload('bank_transactions')
        transfer = dict(self.payload('withdrawal'), id=6003, etag='"t6003"', amount=-300.0,
                        transaction_type='Trust transfer', description='Transfer to operating')
        transfer.pop('funds_out', None)
        transfer.pop('funds_in', None)
        transactions['data'].append(transfer)
        transactions['meta']['records'] = len(transactions['data'])
        self.api.script('GET', '/api/v4/bank_transactions.json', Reply(payload=transactions))

    def script_faults(self):
        """Faults are the business of test_api_migration: this account answers cleanly."""


class AuditedRunCase(ApiMigrationCase):
    """The mapping confirmed and audited before the class's full run; ``decide`` takes the audit's decisions."""

    __test__ = False

    @classmethod
    def prepare_project(cls):
        cls.project.action_confirm_mapping()
        cls.project.action_audit()
        cls.audit_issues = cls.project.issue_ids
        cls.decide()

    @classmethod
    def decide(cls):
        raise NotImplementedError

    def assertQuietRerun(self):
        """A rerun of the unchanged source writes nothing, on every object."""
        first = self.counters(self.full_run)
        second = self.run_full()
        changed = {name: (c['created'], c['updated']) for name, c in self.counters(second).items()
                   if c['created'] or c['updated']}
        self.assertEqual(changed, {}, "rerun of an unchanged source: (created, updated) per object")
        self.assertEqual({name: c['failed'] for name, c in self.counters(second).items()},
                         {name: c['failed'] for name, c in first.items()}, "what failed fails again, nothing more")
        self.assertEqual(self.counts(), self.counts_full)


@tagged('crm_migration', 'post_install', '-at_install')
def _two_sellers(cls):
    """The noCRM sellers who have Odoo users (owner 99 has none); two-lead pages."""
    cls.startClassPatcher(patch.object(NocrmSource, 'page_size', 2))
    Users = cls.env['res.users'].with_context(no_reset_password=True)
    cls.lea = Users.create({'name': 'Lea Seller', 'login': 'lea@sales.test', 'email': 'lea@seller.example'})
    cls.max = Users.create({'name': 'Max Closer', 'login': 'max@sales.test', 'email': 'max@seller.example'})


class TestNocrmOwnerLeftUnassigned(AuditedRunCase):
    __test__ = True
    ACCOUNT = QuietNocrmAccount
    PROJECT_VALUES = {'batch_size': 2}
    COUNTED = ('crm.lead', 'res.partner', 'res.users', 'mail.message', 'ir.attachment', 'mail.activity')

    @classmethod
    def prepare_odoo(cls):
        _two_sellers(cls)

    @classmethod
    def decide(cls):
        cls.owner_issue = cls.audit_issues.filtered(lambda i: i.kind == 'unmatched_user' and i.source_id == '99')
        cls.owner_issue.action_leave_unassigned()

    def test_audit_names_the_owner_once_with_its_records(self):
        self.assertEqual(len(self.owner_issue), 1)
        self.assertEqual(self.owner_issue.object_id.name, 'users')
        for text in ('Ivo Nomad', 'ivo.nomad@seller.example', '2 records'):
            self.assertIn(text, self.owner_issue.message)
        self.assertFalse(self.audit_issues.filtered(lambda i: i.kind == 'orphan' and i.related_source_id == '99'),
                         "one reconciliation issue for the owner, not one orphan per lead")

    def test_every_lead_lands_and_the_owner_stays_empty(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'leads', read=3, created=3, failed=0)
        self.assertStat(self.full_run, 'users', read=3, updated=2, skipped=1, failed=0)
        self.assertFalse(self.project.record_ids.filtered(lambda r: r.operation == 'failed').mapped('message'))
        self.assertEqual(self.target('leads', '8113').user_id, self.lea)
        for lead in ('8114', '8115'):
            # Unassigned in the source terms: what the project gives every unassigned lead.
            self.assertEqual(self.target('leads', lead).user_id, self.project._default_owner(),
                             self.link('leads', lead).message)
            self.assertIn('users 99', self.link('leads', lead).message)
        links = self.project.record_ids.filtered(lambda r: r.object_id.name == 'lead_comments' and r.res_id)
        comments = self.env['mail.message'].browse(links.mapped('res_id')).filtered(
            lambda m: m.model == 'crm.lead' and m.res_id == self.target('leads', '8114').id)
        self.assertEqual(len(comments), len(self.account.comments['8114']), "the lead's comments land with it")

    def test_rerun_updates_nothing(self):
        self.require_full_run()
        self.assertQuietRerun()


@tagged('crm_migration', 'post_install', '-at_install')
class TestNocrmOwnerCreated(AuditedRunCase):
    """*Create user* on the audit's issue: the owner becomes an Odoo user and keeps their leads."""

    __test__ = True
    ACCOUNT = QuietNocrmAccount
    PROJECT_VALUES = {'batch_size': 2}
    COUNTED = ('crm.lead', 'res.users')

    @classmethod
    def prepare_odoo(cls):
        _two_sellers(cls)

    @classmethod
    def decide(cls):
        cls.audit_issues.filtered(lambda i: i.kind == 'unmatched_user' and i.source_id == '99').action_create_user()

    def test_the_owner_is_created_and_owns_their_leads(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'users', read=3, created=1, updated=2, failed=0)
        ivo = self.target('users', '99')
        self.assertEqual((ivo.name, ivo.login, ivo.email),
                         ('Ivo Nomad', 'ivo.nomad@seller.example', 'ivo.nomad@seller.example'))
        for lead in ('8114', '8115'):
            self.assertEqual(self.target('leads', lead).user_id, ivo)

    def test_rerun_updates_nothing(self):
        self.require_full_run()
        self.assertQuietRerun()


@tagged('crm_migration', 'post_install', '-at_install')
class TestClinikoPractitionerAndContradiction(AuditedRunCase):
    __test__ = True
    ACCOUNT = QuietClinikoAccount
    COUNTED = ('crm.lead', 'res.partner', 'res.users', 'mail.message', 'ir.attachment', 'account.move',
               'account.move.line', 'crm.lost.reason', 'calendar.event')

    @classmethod
    def prepare_odoo(cls):
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        cls.randy = Users.create({'name': 'Randy Savage', 'login': 'randy@clinic.test', 'email': 'john@example.com'})
        cls.mia = Users.create({'name': 'Mia Wong', 'login': 'mia@clinic.test', 'email': 'mia.wong@physio.example'})

    @classmethod
    def decide(cls):
        cls.locum_issue = cls.audit_issues.filtered(lambda i: i.kind == 'unmatched_user' and i.source_id == '3')
        # The locum's appointments go to Mia, who took the locum's patients over.
        cls.locum_issue.user_id = cls.mia
        cls.locum_issue.action_use_user()

    def test_audit_names_the_locum_and_counts_her_appointments(self):
        self.assertEqual(len(self.locum_issue), 1)
        self.assertEqual(self.locum_issue.object_id.name, 'practitioners')
        for text in ('Tom Locum', 'tom.locum@physio.example', '1 records'):
            self.assertIn(text, self.locum_issue.message)

    def test_appointments_all_land(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'appointments', read=4, created=4, failed=0)
        self.assertStat(self.full_run, 'practitioners', read=3, failed=0)
        self.assertEqual(self.target('appointments', '4').user_id, self.mia, "the user picked on the issue")

    def test_arrived_and_cancelled_appointment_is_lost_with_its_reason(self):
        self.require_full_run()
        lead = self.target('appointments', '1')
        self.assertFalse(lead.active, "lost wins")
        self.assertFalse(lead.stage_id.is_won)
        self.assertEqual(lead.lost_reason_id.name, 'Cancelled: other reason')
        self.assertIn('lost wins', self.link('appointments', '1').message)

    def test_audit_lists_the_contradictions_with_their_rule(self):
        found = {(i.object_id.name, i.source_id): i for i in self.audit_issues if i.kind == 'contradiction'}
        self.assertEqual(set(found), {('appointments', 'lost_wins'), ('appointments', 'ends_before_start'),
                                      ('group_appointments', 'ends_before_start'), ('invoice_items', 'credit_line'),
                                      # The places of the group appointment take its times.
                                      ('attendees', 'ends_before_start')})
        self.assertFalse(any(issue.blocking for issue in found.values()), "a rule decides them: nothing to wait for")
        self.assertIn('Rows: 1.', found['appointments', 'lost_wins'].message)
        self.assertIn('Rows: 4.', found['appointments', 'ends_before_start'].message)
        self.assertIn('default duration', found['appointments', 'ends_before_start'].message)
        self.assertIn('Rows: 1011.', found['group_appointments', 'ends_before_start'].message)
        self.assertIn('Rows: 4.', found['invoice_items', 'credit_line'].message)
        self.assertFalse(self.audit_issues.filtered(lambda i: i.kind == 'invalid' and i.object_id.name in (
            'appointments', 'group_appointments', 'invoice_items')).mapped('message'))

    def test_contradictory_rows_land_as_the_rule_decides(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'group_appointments', read=1, created=1, failed=0)
        self.assertStat(self.full_run, 'invoice_items', read=4, failed=0)
        hours = self.env['calendar.event'].get_default_duration()
        lead = self.target('appointments', '4')
        self.assertEqual(lead.x_appointment_end - lead.x_appointment_date, datetime.timedelta(hours=hours))
        self.assertEqual(lead.x_appointment_duration, hours * 60)
        self.assertIn('Ends before it starts', self.link('appointments', '4').message)
        event = self.target('group_appointments', '1011')
        self.assertEqual((event.start, event.stop), (datetime.datetime(2024, 3, 5, 22), datetime.datetime(
            2024, 3, 5, 22) + datetime.timedelta(hours=hours)))
        credit = self.target('invoice_items', '4')
        self.assertEqual((credit.quantity, credit.price_unit), (1.0, -10.0), "a credit line of its invoice")
        self.assertEqual(credit.move_id, self.target('invoices', '108'))
        self.assertIn('credit line', self.link('invoice_items', '4').message)

    def test_rerun_updates_nothing(self):
        """Draft invoices included: an optional write-back without a target is not retried."""
        self.require_full_run()
        self.assertQuietRerun()


@tagged('crm_migration')
class TestTypesAndMoneyFromData(BaseCase):
    """Pure: a column's meaning beats its sample; a ledger entry's direction and a bill's paid amount
    come from its own numbers."""

    def test_names_and_ids_are_text_whatever_the_sample(self):
        fields = {'name': {'string': 'Name', 'type': 'char'}}
        for column, label, values in (
                ('last_name', 'Last name', ['1001', '1002', '1003', '1004']),
                ('first_name', 'First name', ['Ann', 'Bob', 'Ann', 'Bob', 'Ann']),
                ('mrn_id', 'MRN ID', ['17', '18', '19']),
                ('email', 'Email', ['', '', ''])):
            found = proposal.propose(column, label, values, 'res.partner', fields)
            if found.new_type:
                self.assertEqual(found.new_type, 'char', column)
                self.assertFalse(found.selection, column)
        # What the sample alone says still types a column whose meaning is unknown.
        self.assertEqual(proposal.propose('visits', 'Visits', ['1', '2', '3'], 'res.partner', fields).new_type,
                         'integer')
        self.assertEqual(proposal.propose('notes', 'Notes', ['1', '2'], 'x.model', {}).new_type, 'text')

    def test_trust_direction_from_type_then_sign(self):
        self.assertEqual(transaction_direction({'transaction_type': 'Deposit', 'amount': -5}), 'inbound',
                         "a type that says it wins")
        self.assertEqual(transaction_direction({'transaction_type': 'Trust transfer', 'amount': -300.0}), 'outbound')
        self.assertEqual(transaction_direction({'transaction_type': 'Adjustment', 'amount': '250.00'}), 'inbound')
        self.assertEqual(transaction_direction({'transaction_type': '', 'amount': 0, 'funds_out': 40}), 'outbound')
        self.assertEqual(transaction_direction({'transaction_type': 'Adjustment', 'amount': ''}), '')

    def test_boolean_paid_becomes_the_amount_paid(self):
        self.assertEqual(paid_amount({'paid': True, 'total': 1500.0, 'balance': 0.0}), 1500.0)
        self.assertEqual(paid_amount({'paid': False, 'total': 800.0, 'balance': 300.0}), 500.0, "partly paid")
        self.assertEqual(paid_amount({'paid': True, 'total': '90.5'}), 90.5)
        self.assertEqual(paid_amount({'paid': False, 'total': '90.5'}), 0.0)


@tagged('crm_migration', 'post_install', '-at_install')
class TestClioMoneyFromData(AuditedRunCase):
    __test__ = True
    ACCOUNT = QuietClioAccount
    COUNTED = ('crm.lead', 'res.partner', 'account.move', 'account.move.line', 'account.payment')

    @classmethod
    def prepare_odoo(cls):
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        Users.create({'name': 'Alice Lawyer', 'login': 'alice@firm.test', 'email': 'alice@firm.example'})
        Users.create({'name': 'Bob Partner', 'login': 'bob@firm.test', 'email': 'bob@firm.example'})
        cls.trust = cls.env['account.journal'].create({'name': 'IOLTA Trust Account', 'type': 'bank', 'code': 'TRST'})

    @classmethod
    def decide(cls):
        """Nothing to decide: every user is matched."""

    def test_audit_finds_nothing_blocking_in_flags_and_signs(self):
        blocking = self.audit_issues.filtered(
            lambda i: i.blocking and i.object_id.name in ('bills', 'bank_transactions')
        )
        self.assertFalse(blocking.mapped('message'))

    def test_boolean_paid_lands_as_the_amount_paid(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'bills', read=2, created=2, failed=0)
        self.assertEqual(self.target('bills', '9502').x_source_paid, 1500.0)
        self.assertEqual(self.target('bills', '9501').x_source_paid, 0.0)

    def test_trust_entry_takes_its_direction_from_the_sign(self):
        self.require_full_run()
        self.assertStat(self.full_run, 'bank_transactions', read=2, created=2, failed=0)
        transfer = self.target('bank_transactions', '6003')
        self.assertEqual((transfer.payment_type, transfer.amount, transfer.journal_id), ('outbound', 300.0, self.trust))

    def test_rerun_updates_nothing(self):
        self.require_full_run()
        self.assertQuietRerun()


class ContradictoryClioAccount(QuietClioAccount):
    """The quiet Clio account with rows a person would not enter on purpose: calendar entry 802
    ends before it starts, bill 9501 is due before it was issued, a write-down of -0.5 h on
    bill 9501, and matter 701's "Date of Incident" (a date custom field) reading "unknown".

    Shapes: Clio Manage v4 OpenAPI (CalendarEntry start_at/end_at; Bill issued_at/due_at;
    Activity quantity_in_hours/price/total; CustomFieldValue field_name/value, typed by the
    CustomField's field_type), as in fixtures/api/clio/account.json.
    """

    def __init__(self):
        super().__init__()
        entries = self.payload('calendar_entries')
        entries['data'][1]['end_at'] = '2024-03-01T13:00:00-08:00'  # starts at 14:00
        self.api.script('GET', '/api/v4/calendar_entries.json', Reply(payload=entries))
        bills = self.payload('bills')
        for bill in bills['data']:
            bill['paid'] = bill['balance'] == 0
            if bill['id'] == 9501:
                bill['due_at'] = '2024-01-15'  # issued 2024-02-01
        self.api.script('GET', '/api/v4/bills.json', Reply(payload=bills))
        activities = self.payload('activities')
        write_down = dict(activities['data'][0], id=125565999, etag='"w125565999"', quantity=-1800.0,
                          quantity_in_hours=-0.5, total=-150.0, note='Write-down: research overrun')
        activities['data'].append(write_down)
        activities['meta']['records'] = len(activities['data'])
        self.api.script('GET', '/api/v4/activities.json', Reply(payload=activities))
        matters = self.payload('matters')
        for matter in matters['data']:
            if matter['id'] == 701:
                matter['custom_field_values'] = [{'id': 'date-13', 'field_name': 'Date of Incident',
                                                  'value': 'unknown'}]
        self.api.script('GET', '/api/v4/matters.json', Reply(payload=matters))


@tagged('crm_migration', 'post_install', '-at_install')
class TestClioContradictionsTypesAndTrustJournal(AuditedRunCase):
    """Every contradiction decided by its rule, a value its definition's type cannot hold loaded
    empty, and the trust journal asked for in the audit because no journal has the bank account's name."""

    __test__ = True
    ACCOUNT = ContradictoryClioAccount
    COUNTED = ('crm.lead', 'res.partner', 'account.move', 'account.move.line', 'account.payment', 'calendar.event')

    @classmethod
    def prepare_odoo(cls):
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        Users.create({'name': 'Alice Lawyer', 'login': 'alice@firm.test', 'email': 'alice@firm.example'})
        Users.create({'name': 'Bob Partner', 'login': 'bob@firm.test', 'email': 'bob@firm.example'})
        cls.trust = cls.env['account.journal'].create({'name': 'Client trust (TD Bank)', 'type': 'bank',
                                                       'code': 'CTRS'})

    @classmethod
    def decide(cls):
        issues = cls.audit_issues
        cls.journal_issue = issues.filtered(lambda i: i.kind == 'missing_journal')
        cls.journal_issue.journal_id = cls.trust
        cls.journal_issue.action_use_journal()
        cls.type_issue = issues.filtered(lambda i: i.kind == 'type_mismatch' and i.object_id.name == 'matters')
        cls.type_issue.action_load_empty()

    def test_audit_asks_for_the_trust_journal_once(self):
        self.assertEqual(len(self.journal_issue), 1)
        self.assertEqual(self.journal_issue.object_id.name, 'bank_transactions')
        for text in ("'IOLTA Trust Account' (2)", '6001', '6003'):
            self.assertIn(text, self.journal_issue.message)
        self.assertEqual(self.project.trust_journal_id, self.trust, "the decision is the project's")
        self.project.action_audit()
        self.assertFalse(self.project.issue_ids.filtered(lambda i: i.kind == 'missing_journal' and i.state == 'open'),
                         "decided: a second audit does not ask again")

    def test_audit_lists_the_value_its_type_cannot_hold(self):
        self.assertEqual(len(self.type_issue), 1)
        for text in ("'unknown'", 'Rows: 701.', 'date'):
            self.assertIn(text, self.type_issue.message)
        self.assertFalse(self.audit_issues.filtered(lambda i: i.kind == 'invalid' and i.source_id == '701'),
                         "listed once per line, not once per row")

    def test_audit_lists_the_contradictions(self):
        found = {(i.object_id.name, i.source_id): i for i in self.audit_issues if i.kind == 'contradiction'}
        self.assertEqual(set(found), {('calendar_entries', 'ends_before_start'), ('bills', 'due_before_date'),
                                      ('activities', 'credit_line')})
        self.assertIn('Rows: 802.', found['calendar_entries', 'ends_before_start'].message)
        self.assertIn('Rows: 9501.', found['bills', 'due_before_date'].message)
        self.assertIn('Rows: 125565999.', found['activities', 'credit_line'].message)

    def test_every_row_lands_as_decided(self):
        self.require_full_run()
        for name, read in (('calendar_entries', 2), ('bills', 2), ('matters', 3), ('bank_transactions', 2)):
            self.assertStat(self.full_run, name, read=read, failed=0)
        self.assertStat(self.full_run, 'activities', failed=0)
        event = self.target('calendar_entries', '802')
        self.assertEqual(event.stop - event.start,
                         datetime.timedelta(hours=self.env['calendar.event'].get_default_duration()))
        bill = self.target('bills', '9501')
        self.assertEqual(bill.invoice_date_due, bill.invoice_date, "due on its own date")
        write_down = self.target('activities', '125565999')
        self.assertEqual((write_down.quantity, write_down.price_unit, write_down.move_id), (0.5, -300.0, bill))
        matter = self.target('matters', '701')
        self.assertFalse(matter[self.type_issue.source_id], "loaded empty")
        self.assertIn("'unknown'", self.link('matters', '701').message)
        for entry in ('6001', '6003'):
            self.assertEqual(self.target('bank_transactions', entry).journal_id, self.trust)

    def test_rerun_updates_nothing(self):
        self.require_full_run()
        self.assertQuietRerun()


@tagged('crm_migration', 'post_install', '-at_install')
class TestNocrmSetUpWithinQuota(MigrationCaseMixin, TransactionCase):
    """Set-up (test connection, structure, audit) of a 230-lead noCRM account spends at most 10 %
    of the day's 2,000 requests, counted on the project's ledger; a 700-lead plan says its days."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = LargeNocrmAccount(230)
        cls.addClassCleanup(cls.account.close)
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        Users.create({'name': 'Lea Seller', 'login': 'lea@sales.test', 'email': 'lea@seller.example'})
        Users.create({'name': 'Max Closer', 'login': 'max@sales.test', 'email': 'max@seller.example'})
        cls.project = cls.env['crm.migration.project'].create(cls.account.project_values())
        cls.project.action_test_connection()
        cls.project.action_read_structure()
        cls.project.action_confirm_mapping()
        cls.project.action_audit()

    def test_set_up_spends_at_most_a_tenth_of_the_day(self):
        sent = len(self.account.api.log)
        self.assertEqual(self.project.api_requests_used, sent, "every request is on the ledger")
        self.assertLessEqual(sent, 200, "set-up of 230 leads within 10 % of 2,000 requests")
        self.assertEqual(self.project.api_requests_left, 2000 - sent)
        per_lead = [e for e in self.account.api.log if e.path.startswith('/api/v2/leads/')]
        self.assertLessEqual(len({e.path.split('/')[4] for e in per_lead}), NocrmSource.SAMPLE_PARENTS,
                             "child lists are sampled on a few leads only")

    def test_a_run_is_refused_when_the_ledger_says_the_day_is_spent(self):
        self.project.api_requests_used = 1990
        source = self.project._get_source()
        self.assertEqual(source.requests_remaining, 10, "the ledger's remainder is the run's budget")

    def test_plan_counts_the_days_of_a_700_lead_account(self):
        source = self.project._get_source()
        counts = {'leads': 700, 'lead_attachments': 0, 'prospects': 0}
        estimate = source.estimate_requests(counts)
        left = source.requests_remaining
        self.assertGreater(estimate, 2000, "700 leads x 3 per-lead lists do not fit one day")
        expected = 1 + -(-(estimate - left) // 2000)
        self.assertEqual(source.plan_days(estimate), expected)
        self.assertEqual(expected, 2)
        message = ' '.join(source._plan_messages(counts))
        self.assertIn('takes 2 day(s)', message)


class FakeDays:
    """Odoo's clock (``fields.Datetime.now``), which the request ledger and the run schedule read,
    moved by the test from one vendor day to the next."""

    def __init__(self, start):
        self.moment = start

    def now(self):
        return self.moment


@tagged('crm_migration', 'post_install', '-at_install')
class TestNocrmRunOverDays(MigrationCaseMixin, TransactionCase):
    """A noCRM account of 700 leads behind noCRM's 2,000 requests a day (the server answers 429
    once the day is spent): the set-up spends at most 10 % of the day, the plan says in how many
    days a full run completes, and the run, driven by its cron steps across simulated days,
    lands every lead in exactly that many days without drawing a single 429."""

    LEADS = 700

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.clock = FakeDays(datetime.datetime(2026, 3, 2, 9, 0))
        cls.startClassPatcher(patch.object(fields.Datetime, 'now', cls.clock.now))
        cls.account = LargeNocrmAccount(cls.LEADS)
        cls.addClassCleanup(cls.account.close)
        cls.quota = DailyQuota(cls.clock.now)
        cls.account.api.gate = cls.quota
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        Users.create({'name': 'Lea Seller', 'login': 'lea@sales.test', 'email': 'lea@seller.example'})
        Users.create({'name': 'Max Closer', 'login': 'max@sales.test', 'email': 'max@seller.example'})
        cls.project = cls.env['crm.migration.project'].create(cls.account.project_values(
            api_multiday=True, require_approval=False))
        cls.project.action_test_connection()
        cls.project.action_read_structure()
        cls.project.action_confirm_mapping()
        cls.project.action_audit()
        cls.set_up_requests = len(cls.account.api.log)
        cls.set_up_quota = dict(cls.quota.used)  # the run's test moves the clock on
        cls.project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        source = cls.project._get_source()
        counts = {obj.name: obj.row_count for obj in cls.project.object_ids.filtered('enabled')}
        cls.plan = ' '.join(source._plan_messages(counts))
        cls.plan_days = source.plan_days(source.estimate_requests(counts))

    def test_set_up_spends_at_most_a_tenth_of_the_day(self):
        self.assertEqual(self.project.api_requests_used, self.set_up_requests, "every request is on the ledger")
        self.assertLessEqual(self.set_up_requests, 200, "set-up of 700 leads within 10 % of 2,000 requests")
        self.assertEqual(self.set_up_quota, {datetime.date(2026, 3, 2): self.set_up_requests})

    def test_full_run_completes_in_the_days_the_plan_says(self):
        self.assertEqual(self.plan_days, 2, "700 leads x 3 per-lead lists need a second day")
        self.assertIn('takes %d day(s)' % self.plan_days, self.plan)
        action = self.project.action_start_run()
        run = self.env['crm.migration.run'].browse(action['res_id'])
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        days, steps = {self.clock.now().date()}, 0
        while run.state in ('queued', 'running'):
            steps += 1
            self.assertLess(steps, 100, "the run advances at every step")
            if run.resume_at and run.resume_at > self.clock.now():
                # The run waits for the next vendor day: the day passes.
                self.assertEqual(run.resume_at, datetime.datetime.combine(
                    self.clock.now().date() + datetime.timedelta(days=1), datetime.time()), run.message)
                self.clock.moment = run.resume_at + datetime.timedelta(minutes=5)
                days.add(self.clock.now().date())
            with self.enter_registry_test_mode():
                cron.method_direct_trigger()
            run.invalidate_recordset()
        self.assertEqual(run.state, 'done', run.message)
        self.assertEqual(len(days), self.plan_days, "the run takes the days the plan said")
        self.assertEqual(self.quota.refused, 0, "the budget stops the run before noCRM's 429")
        self.assertTrue(all(used <= 2000 for used in self.quota.used.values()), self.quota.used)
        self.assertEqual(self.quota.used[datetime.date(2026, 3, 2)], 2000, "day 1 is used to its last request")
        self.assertStat(run, 'leads', read=self.LEADS, created=self.LEADS, failed=0)
        self.assertEqual(len(self.project.record_ids.filtered(
            lambda r: r.object_id.name == 'leads' and r.operation == 'created')), self.LEADS, "every lead landed once")
