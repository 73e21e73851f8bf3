# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Scripted vendor accounts for the API migration tests, built on ``api_server``.

Each ``*Account`` starts two loopback servers -- the vendor API as
``127.0.0.1`` and the storage host of pre-signed downloads as ``localhost``
(another host for the HTTP client: credentials must never reach it) -- and
scripts every list route the vendor's template reads, with the payloads of
``fixtures/api/<vendor>/account.json`` (sources cited in its ``_source``).

Both servers stamp requests with the wall clock (``time.time``), so a test
can compare the request log with a vendor's reset header (UNIX time).

* ``script_faults()`` adds one 500 and one 429 (in the vendor's own header),
  to be called after ``action_read_structure`` so that they hit the run;
* ``script_delta(since)`` answers the vendor's delta query with changed rows
  only;
* ``override(...)`` scripts a route for one test and removes it afterwards.
"""
import contextlib
import copy
import datetime
import json
import math
import os
import time

from .api_server import ApiServer, Reply

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
API_FIXTURES = os.path.join(FIXTURES, 'api')


def load_json(name, hosts=None):
    """A file of ``fixtures/api``, vendor hosts pointed at the test servers, ``_source`` dropped."""
    with open(os.path.join(API_FIXTURES, name), encoding='utf-8') as handle:
        text = handle.read()
    for vendor_host, test_host in (hosts or {}).items():
        text = text.replace(vendor_host, test_host)
    data = json.loads(text)
    if isinstance(data, dict):
        data.pop('_source', None)
    return data


def file_bytes(name):
    """A document of ``fixtures/clinic`` (a real PDF and PNG), as a storage host serves it."""
    with open(os.path.join(FIXTURES, 'clinic', name), 'rb') as handle:
        return handle.read()


class ResetAt:
    """A reset header computed when the answer is sent: now + ``seconds``, as UNIX time.

    The value actually sent is kept in ``sent`` so that a test can check the
    client waited until then.
    """

    def __init__(self, seconds=1):
        self.seconds = seconds
        self.sent = []

    def __str__(self):
        value = int(math.ceil(time.time())) + self.seconds
        self.sent.append(value)
        return str(value)


class ScriptedServer(ApiServer):
    """An ``ApiServer`` whose routes can also be removed (one test's override)."""

    def script(self, method, path, *replies, query=None):
        super().script(method, path, *replies, query=query)
        with self._lock:
            return self._routes[-1]

    # A callable(entry) answering before the routes, or returning None to let them answer:
    # a vendor's quota once spent (DailyQuota).
    gate = None

    def _next_reply(self, entry):
        reply = self.gate(entry) if self.gate else None
        return reply or super()._next_reply(entry)

    def unscript(self, route):
        with self._lock:
            self._routes[:] = [r for r in self._routes if r is not route]

    def entries(self, path=None, **params):
        """Logged requests to ``path`` whose query has every ``params`` value."""
        return [entry for entry in self.requests(path=path)
                if all(value in entry.query.get(key, ()) for key, value in params.items())]


class VendorAccount:
    """The two servers of one vendor account."""

    FIXTURE = None
    API_HOST = None

    def __init__(self):
        self.api = ScriptedServer('127.0.0.1', clock=time.time)
        self.files = ScriptedServer('localhost', clock=time.time)
        self.data = load_json(self.FIXTURE, {self.API_HOST: self.api.url})
        self.script_account()

    def close(self):
        self.api.close()
        self.files.close()

    def payload(self, key):
        """A deep copy of one answer of the account, to change for a test."""
        return copy.deepcopy(self.data[key])

    @contextlib.contextmanager
    def override(self, method, path, *replies, query=None, server=None):
        route = (server or self.api).script(method, path, *replies, query=query)
        try:
            yield route
        finally:
            (server or self.api).unscript(route)

    def script_account(self):
        raise NotImplementedError

    def script_file_redirects(self, route, status, expires):
        """``route % id`` of each ``FILES`` entry answers ``status`` to a pre-signed URL on the storage host."""
        for ident, (name, storage_path) in self.FILES.items():
            self.api.script('GET', route % ident, Reply(status, headers={
                'Location': '%s%s?X-Amz-Expires=%d&X-Amz-Signature=5e1f%s' % (self.files.url, storage_path, expires,
                                                                              ident)}))
            self.files.script('GET', storage_path, Reply(body=file_bytes(name)))

    def script_faults(self):
        raise NotImplementedError

    def script_delta(self, since_text):
        raise NotImplementedError


# ---------------------------------------------------------------------------
# Cliniko (https://docs.api.cliniko.com/)
# ---------------------------------------------------------------------------

class ClinikoAccount(VendorAccount):
    FIXTURE = 'cliniko/account.json'
    API_HOST = 'https://api.au1.cliniko.com'
    KEY = 'MS0xMjM0NTY3ODktaW50ZWdyYXRpb24-au1'
    USER_AGENT = 'crm_migration integration tests (it@clinic.example)'
    # Every list route of the template's objects: path -> (answer key, record key).
    LISTS = {
        '/v1/users': ('users', 'users'),
        '/v1/practitioners': ('practitioners', 'practitioners'),
        '/v1/practitioners/inactive': ('practitioners_inactive', 'practitioners'),
        '/v1/appointment_types': ('appointment_types', 'appointment_types'),
        '/v1/appointment_types/archived': ('appointment_types_archived', 'appointment_types'),
        '/v1/concession_types': ('concession_types', 'concession_types'),
        '/v1/contacts': ('contacts', 'contacts'),
        '/v1/billable_items': ('billable_items', 'billable_items'),
        '/v1/products': ('products', 'products'),
        '/v1/businesses': ('businesses', 'businesses'),
        '/v1/group_appointments': ('group_appointments', 'group_appointments'),
        '/v1/attendees': ('attendees', 'attendees'),
        '/v1/attendees/cancelled': ('attendees_cancelled', 'attendees'),
        '/v1/individual_appointments': ('individual_appointments', 'individual_appointments'),
        '/v1/treatment_notes': ('treatment_notes', 'treatment_notes'),
        '/v1/communications': ('communications', 'communications'),
        '/v1/patient_forms': ('patient_forms', 'patient_forms'),
        '/v1/patient_attachments': ('patient_attachments', 'patient_attachments'),
        '/v1/invoices': ('invoices', 'invoices'),
        '/v1/invoice_items': ('invoice_items', 'invoice_items'),
    }
    # Patient attachment id -> (file of fixtures/clinic, storage path).
    FILES = {
        '1': ('consent_form.pdf', '/cliniko-au1-attachments/1/consent_form.pdf'),
        '2': ('registration.png', '/cliniko-au1-attachments/2/registration.png'),
    }

    def __init__(self):
        self.reset = ResetAt(1)
        super().__init__()
        hosts = {self.API_HOST: self.api.url}
        self.patients = [load_json('cliniko/patients_page1.json', hosts),
                         load_json('cliniko/patients_page2.json', hosts)]
        self.archived = load_json('cliniko/patients_archived.json', hosts)
        self.api.script('GET', '/v1/patients', Reply(payload=self.patients[0]))
        self.api.script('GET', '/v1/patients', Reply(payload=self.patients[1]), query={'page': '2'})
        self.api.script('GET', '/v1/patients/archived', Reply(payload=self.archived))
        # https://docs.api.cliniko.com/ -- /patients/deleted and /individual_appointments/deleted list
        # the records deleted since, in the object's own envelope.
        for path, key in (('/v1/patients/deleted', 'patients'),
                          ('/v1/individual_appointments/deleted', 'individual_appointments')):
            self.api.script('GET', path, Reply(payload={key: [], 'total_entries': 0,
                                                        'links': {'self': self.api.url + path}}))

    def project_values(self, **values):
        return dict({
            'name': 'Cliniko clinic', 'source_type': 'cliniko', 'api_key': self.KEY,
            'api_user_agent': self.USER_AGENT, 'api_base_url': self.api.url + '/v1',
            'api_rate_limit': 6000, 'source_tz': 'Australia/Melbourne',
        }, **values)

    def script_account(self):
        for path, (key, _records) in self.LISTS.items():
            self.api.script('GET', path, Reply(payload=self.data[key]))
        # The content route answers with a redirect to a pre-signed URL on another host.
        self.script_file_redirects('/v1/patient_attachments/%s/content', 302, 300)

    def script_faults(self):
        """A 500 on the first page of appointments, a 429 on the second page of patients."""
        self.api.script('GET', '/v1/individual_appointments',
                        Reply(500, {'errors': 'Internal Server Error'}),
                        Reply(payload=self.data['individual_appointments']), query={'per_page': '100'})
        self.api.script('GET', '/v1/patients',
                        Reply(429, {'errors': 'Too many requests'}, headers={'X-RateLimit-Reset': self.reset}),
                        Reply(payload=self.patients[1]), query={'page': '2', 'per_page': '100'})

    def script_delta(self, since_text):
        """``q[]=updated_at:>since``: changed patients only, nothing else changed; returns the routes."""
        query = {'q[]': 'updated_at:>%s' % since_text}
        routes = []
        for path, (_key, records) in dict(self.LISTS, **{
                '/v1/patients': (None, 'patients'), '/v1/patients/archived': (None, 'patients')}).items():
            if path == '/v1/users':
                continue  # not a loaded object: read in full to find practitioners' e-mails
            payload = self.data['delta_patients'] if path == '/v1/patients' else {
                records: [], 'total_entries': 0, 'links': {'self': self.api.url + path}}
            routes.append(self.api.script('GET', path, Reply(payload=payload), query=query))
        # Joe Monahan (patient 3) was deleted in Cliniko during the cutover.
        deleted = {'patients': [{'id': 3, 'deleted_at': '2024-06-02T09:00:00Z', 'updated_at': '2024-06-02T09:00:00Z',
                                 'first_name': 'Joe', 'last_name': 'Monahan',
                                 'links': {'self': self.api.url + '/v1/patients/3'}}],
                   'total_entries': 1, 'links': {'self': self.api.url + '/v1/patients/deleted'}}
        routes.append(self.api.script('GET', '/v1/patients/deleted', Reply(payload=deleted), query=query))
        return routes


# ---------------------------------------------------------------------------
# Clio Manage v4 (https://docs.developers.clio.com/)
# ---------------------------------------------------------------------------

class ClioAccount(VendorAccount):
    FIXTURE = 'clio/account.json'
    API_HOST = 'https://app.clio.com'
    TOKEN = 'clio-access-token-integration-0001'
    LISTS = {
        '/api/v4/users.json': 'users',
        '/api/v4/practice_areas.json': 'practice_areas',
        '/api/v4/custom_fields.json': 'custom_fields',
        '/api/v4/activity_descriptions.json': 'activity_descriptions',
        '/api/v4/activity_rates.json': 'activity_rates',
        '/api/v4/matters.json': 'matters',
        '/api/v4/calendar_entries.json': 'calendar_entries',
        '/api/v4/documents.json': 'documents',
        '/api/v4/bills.json': 'bills',
        '/api/v4/activities.json': 'activities',
        '/api/v4/bank_transactions.json': 'bank_transactions',
    }
    # Document id -> (file of fixtures/clinic, storage path).
    FILES = {
        '42': ('consent_form.pdf', '/clio-us-documents/4201/lease-signed.pdf'),
        '43': ('registration.png', '/clio-us-documents/4301/jane-smith-id.png'),
    }

    def __init__(self):
        super().__init__()
        hosts = {self.API_HOST: self.api.url}
        self.contacts = [load_json('clio/contacts_page1.json', hosts), load_json('clio/contacts_page2.json', hosts)]
        self.notes = {'Matter': load_json('clio/notes_matter.json', hosts),
                      'Contact': load_json('clio/notes_contact.json', hosts)}
        self.api.script('GET', '/api/v4/contacts.json', Reply(payload=self.contacts[0]))
        self.api.script('GET', '/api/v4/contacts.json', Reply(payload=self.contacts[1]), query={'page_token': 'xyx'})
        for kind, payload in self.notes.items():
            self.api.script('GET', '/api/v4/notes.json', Reply(payload=payload), query={'type': kind})

    def project_values(self, **values):
        return dict({
            'name': 'Clio firm', 'source_type': 'clio', 'api_access_token': self.TOKEN, 'api_region': 'us',
            'api_base_url': self.api.url + '/api/v4', 'api_rate_limit': 6000, 'source_tz': 'America/Vancouver',
        }, **values)

    def script_account(self):
        for path, key in self.LISTS.items():
            self.api.script('GET', path, Reply(payload=self.data[key]))
        # "303 See Other" to a pre-signed URL of the storage host.
        self.script_file_redirects('/api/v4/documents/%s/download.json', 303, 3600)

    def script_faults(self):
        """A 429 (Retry-After: 1) on the first page of matters, a 500 on the first page of bills."""
        self.api.script('GET', '/api/v4/matters.json',
                        Reply(429, {'error': {'type': 'RateLimited', 'message': 'Rate limit exceeded'}},
                              headers={'Retry-After': '1', 'X-RateLimit-Limit': '50', 'X-RateLimit-Remaining': '0'}),
                        Reply(payload=self.data['matters']), query={'limit': '200'})
        self.api.script('GET', '/api/v4/bills.json', Reply(500, {'error': {'type': 'InternalServerError'}}),
                        Reply(payload=self.data['bills']), query={'limit': '200'})

    def script_delta(self, since_text):
        """``updated_since``: changed contacts only."""
        query = {'updated_since': since_text}
        routes = [self.api.script('GET', '/api/v4/contacts.json', Reply(payload=self.data['delta_contacts']),
                                  query=query)]
        for path in self.LISTS:
            routes.append(
                self.api.script(
                    'GET', path, Reply(payload={'data': [], 'meta': {'paging': {}, 'records': 0}}), query=query
                )
            )
        for kind in self.notes:
            routes.append(self.api.script('GET', '/api/v4/notes.json', Reply(payload={
                'data': [], 'meta': {'paging': {}, 'records': 0}}), query=dict(query, type=kind)))
        return routes


# ---------------------------------------------------------------------------
# noCRM.io v2 (https://www.nocrm.io/api)
# ---------------------------------------------------------------------------

class NocrmAccount(VendorAccount):
    FIXTURE = 'nocrm/account.json'
    API_HOST = 'https://acme.nocrm.io'
    KEY = 'nocrm-api-key-integration-0001'
    # Unpaged lists of the template's objects (plus the disabled "fields", read by the structure step).
    LISTS = {
        '/api/v2/users': 'users',
        '/api/v2/pipelines': 'pipelines',
        '/api/v2/steps': 'steps',
        '/api/v2/predefined_tags': 'predefined_tags',
        '/api/v2/fields': 'fields',
        '/api/v2/clients': 'clients',
    }

    def __init__(self):
        super().__init__()
        s3 = {'https://nocrm-files.s3.amazonaws.com': self.files.url}
        self.leads = [load_json('nocrm/leads_page1.json'), load_json('nocrm/leads_page2.json')]
        self.comments = {lead: load_json('nocrm/comments_%s.json' % lead) for lead in ('8113', '8114', '8115')}
        self.attachments = {'8113': load_json('nocrm/attachments_8113.json', s3), '8114': [], '8115': []}
        self.signed = load_json('nocrm/attachment_77.json', s3)
        self.script_leads(self.leads)
        for lead, payload in self.comments.items():
            self.api.script('GET', '/api/v2/leads/%s/comments' % lead, Reply(payload=payload))
        for lead, payload in self.data['action_histories'].items():
            self.api.script('GET', '/api/v2/leads/%s/action_histories' % lead, Reply(payload=payload))
        for lead, payload in self.attachments.items():
            self.api.script('GET', '/api/v2/leads/%s/attachments' % lead, Reply(payload=payload))
        # Two steps: the attachment gives a signed URL (~180 s) on the storage host.
        self.api.script('GET', '/api/v2/leads/8113/attachments/77', Reply(payload=self.signed))
        self.files.script('GET', '/attachments/77/contract.pdf', Reply(body=file_bytes('consent_form.pdf')))

    def script_leads(self, pages, query=None):
        """Pages of ``limit`` leads (the tests read 2 a page), total in X-TOTAL-COUNT."""
        total = sum(len(page) for page in pages)
        routes = []
        for index, page in enumerate(pages):
            routes.append(self.api.script(
                'GET', '/api/v2/leads', Reply(payload=page, headers={'X-TOTAL-COUNT': total}),
                query=dict(query or {}, offset=str(2 * index))))
        return routes

    def project_values(self, **values):
        return dict({
            'name': 'noCRM account', 'source_type': 'nocrm', 'api_key': self.KEY,
            'api_base_url': self.api.url + '/api/v2', 'api_rate_limit': 6000, 'source_tz': 'Europe/Paris',
        }, **values)

    def script_account(self):
        for path, key in self.LISTS.items():
            self.api.script('GET', path, Reply(payload=self.data[key]))
        spreadsheets = self.data['spreadsheets']
        self.api.script('GET', '/api/v2/spreadsheets', Reply(payload=spreadsheets,
                                                            headers={'X-TOTAL-COUNT': len(spreadsheets)}))
        for ident, payload in self.data['spreadsheet_rows'].items():
            self.api.script('GET', '/api/v2/spreadsheets/%s' % ident, Reply(payload=payload))

    def script_faults(self):
        """A 500 on the steps, a 429 (API-RETRY-AFTER: 1) on the second page of leads."""
        self.api.script('GET', '/api/v2/steps', Reply(500, {'error': 500, 'message': 'Internal Server Error'}),
                        Reply(payload=self.data['steps']))
        self.retry_reset = ResetAt(1)
        self.api.script('GET', '/api/v2/leads', Reply(429, {
            'error': 429, 'message': 'Too many requests', 'type': 'too_many_requests'},
            headers={'API-RETRY-AFTER': '1', 'API-LIMIT-RESET': self.retry_reset}),
            Reply(payload=self.leads[1], headers={'X-TOTAL-COUNT': 3}), query={'offset': '2', 'limit': '2'})

    def script_delta(self, since_text):
        """``updated_after`` on leads (the only noCRM object with a delta filter)."""
        routes = self.script_leads([self.data['delta_leads']], query={'updated_after': since_text})
        for lead, payload in self.data['delta_comments'].items():
            routes.append(self.api.script('GET', '/api/v2/leads/%s/comments' % lead, Reply(payload=payload)))
            routes.append(self.api.script('GET', '/api/v2/leads/%s/attachments' % lead, Reply(payload=[])))
            routes.append(self.api.script('GET', '/api/v2/leads/%s/action_histories' % lead,
                                          Reply(payload=self.data['delta_histories'][lead])))
        return routes


class LargeNocrmAccount(NocrmAccount):
    """A noCRM account of ``size`` leads, 100 a page as noCRM's /leads pages by default
    (https://www.nocrm.io/api "List the leads": limit 100, offset; X-TOTAL-COUNT), each
    lead with empty comment, action-history and attachment lists (bare arrays, unpaged)."""

    PAGE = 100

    def __init__(self, size):
        self.size = size
        super().__init__()
        model = self.leads[0][0]
        leads = [dict(model, id=20000 + index, title='Lead %04d' % index,
                      user_id=12 if index % 2 else 13) for index in range(size)]
        for start in range(0, size, self.PAGE):
            self.api.script('GET', '/api/v2/leads', Reply(payload=leads[start:start + self.PAGE], headers={
                'X-TOTAL-COUNT': size}), query={'offset': str(start)})
        for lead in leads:
            for child in ('comments', 'attachments', 'action_histories'):
                self.api.script('GET', '/api/v2/leads/%s/%s' % (lead['id'], child), Reply(payload=[]))

    def script_faults(self):
        """This account answers cleanly: it measures requests."""


class DailyQuota:
    """noCRM's 2,000 requests a day per account (https://www.nocrm.io/api, "Rate limit": "2000
    requests per day are allowed. Pass this number of requests, all the requests received won't
    be processed and will return an error code 429"), as a gate of the account's API server.

    ``now`` gives the vendor's clock (a naive UTC datetime): the test moves it from day to day.
    A refused request is answered 429 with ``API-RETRY-AFTER`` (seconds to the reset) and
    ``API-LIMIT-RESET`` (UNIX time), and is not processed, so it does not count.
    """

    def __init__(self, now, quota=2000):
        self.now = now
        self.quota = quota
        self.used = {}
        self.refused = 0

    def __call__(self, entry):
        now = self.now()
        day = now.date()
        if self.used.get(day, 0) < self.quota:
            self.used[day] = self.used.get(day, 0) + 1
            return None
        self.refused += 1
        reset = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
        return Reply(429, {'error': 429, 'message': 'Too many requests', 'type': 'too_many_requests'}, headers={
            'API-RETRY-AFTER': str(max(int((reset - now).total_seconds()), 1)),
            'API-LIMIT-RESET': str(int(reset.replace(tzinfo=datetime.timezone.utc).timestamp()))})
