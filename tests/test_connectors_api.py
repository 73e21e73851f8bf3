# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The API connectors against scripted loopback servers: no database.

The vendor API is served on 127.0.0.1 and the storage host of pre-signed
downloads on ``localhost`` (another host for the HTTP client).  A fake
clock replaces every wait: the server stamps requests with it, so the
rate limiter's schedule is read from the request log.
"""
import base64
import datetime
import email.utils
import json
import os
import time

from odoo.tests import BaseCase, tagged

from ..connectors import api_base, http_client
from ..connectors.api_cliniko import ClinikoSource
from ..connectors.api_clio import CONTACT_FIELDS, ClioSource, token_url_for
from ..connectors.api_exceptions import AuthError, HttpStatusError, QuotaExceededError, RateLimitedError
from ..connectors.api_nocrm import NocrmSource
from ..connectors.exceptions import ConnectorError
from .api_server import ApiServer, FakeClock, Reply

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'api')
SINCE = datetime.datetime(2024, 1, 2, 3, 4, 5)
SINCE_TEXT = '2024-01-02T03:04:05Z'


def fixture(name, hosts=None):
    """A payload of ``fixtures/api``, its vendor hosts pointed at the test servers."""
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        text = handle.read()
    for vendor_host, test_host in (hosts or {}).items():
        text = text.replace(vendor_host, test_host)
    return json.loads(text)


class ApiCase(BaseCase):
    """An API server (127.0.0.1) and a storage server (localhost), both on a fake clock."""

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.api = ApiServer('127.0.0.1', clock=self.clock)
        self.addCleanup(self.api.close)
        self.files = ApiServer('localhost', clock=self.clock)
        self.addCleanup(self.files.close)

    def assertWindowRespected(self, entries, per_minute):
        times = [entry.time for entry in entries]
        self.assertGreater(len(times), per_minute, "the test must exceed the limit to prove anything")
        for first, last in zip(times, times[per_minute:], strict=False):
            self.assertGreaterEqual(last - first, 60.0,
                                    "more than %d requests within 60 s: %s" % (per_minute, times))

    def assertSecretsAbsent(self, text, *secrets):
        for secret in secrets:
            self.assertNotIn(secret, text)


@tagged('crm_migration')
class TestSharedPieces(ApiCase):

    def test_flatten_keeps_ids_as_text(self):
        row = api_base.flatten({
            'id': 1234567890123456789,
            'matter': {'id': 5, 'client': {'id': 7.0}},
            'tags': ['vip', None, 'new'],
            'matters': [{'id': 1, 'display_number': None}, {'id': 2, 'display_number': 'B-2'}],
            'empty': [],
        })
        self.assertEqual(row, {
            'id': '1234567890123456789', 'matter_id': '5', 'matter_client_id': '7',
            'tags': 'vip; new', 'matters_id': '1; 2', 'matters_display_number': '; B-2', 'empty': ''})

    def test_retry_after_from_each_vendor_header(self):
        now = 1_700_000_000.0
        http_date = email.utils.formatdate(now + 90, usegmt=True)
        self.assertEqual(http_client.retry_after_seconds({'Retry-After': '12'}, now), 12.0)
        self.assertAlmostEqual(http_client.retry_after_seconds({'Retry-After': http_date}, now), 90.0, delta=1)
        self.assertEqual(http_client.retry_after_seconds({'X-RateLimit-Reset': str(int(now) + 30)}, now), 30.0)
        self.assertEqual(http_client.retry_after_seconds({'API-RETRY-AFTER': '5'}, now), 5.0)
        iso = datetime.datetime.fromtimestamp(now + 40, datetime.timezone.utc).isoformat()
        self.assertAlmostEqual(http_client.retry_after_seconds({'API-LIMIT-RESET': iso}, now), 40.0, delta=1)
        self.assertIsNone(http_client.retry_after_seconds({}, now))

    def test_sliding_window_limiter(self):
        limiter = http_client.RateLimiter(2, self.clock, self.clock.sleep)
        for _i in range(5):
            limiter.acquire()
        self.assertEqual(self.clock.sleeps, [60.0, 60.0], "the 3rd and 5th request wait for a free slot")

    def test_masking_covers_basic_auth_and_url_encoding(self):
        mask = http_client.SecretMasker(['s3cr3t/key+1', None, 'ab'])
        basic = base64.b64encode(b's3cr3t/key+1:').decode()
        text = mask('key s3cr3t/key+1 header Basic %s query s3cr3t%%2Fkey%%2B1 short ab' % basic)
        self.assertEqual(text, 'key *** header Basic *** query *** short ab')

    def test_timeouts_survive_odoo_request_guard(self):
        # Odoo's test harness evaluates ``timeout < 10`` on every request.
        self.assertFalse(http_client.Timeouts() < 10)
        self.assertTrue(http_client.Timeouts(5, 60) < 10)
        self.assertEqual(tuple(http_client.Timeouts()), (10.0, 60.0))

    def test_damaged_cursor_is_reported(self):
        with self.assertRaises(ConnectorError):
            api_base.decode_cursor('not-a-cursor!')

    def test_request_budget_is_a_hard_stop(self):
        self.api.script('GET', '/ping', Reply(payload={'ok': True}))
        client = http_client.HttpClient(self.api.url, vendor='Test', request_budget=1,
                                        sleep=self.clock.sleep, clock=self.clock)
        client.get_json(client.url('/ping'))
        with self.assertRaises(QuotaExceededError):
            client.get_json(client.url('/ping'))
        self.assertEqual(len(self.api.log), 1, "the refused request was never sent")


@tagged('crm_migration')
class TestClinikoConnector(ApiCase):
    KEY = 'MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2'
    USER_AGENT = 'crm_migration tests (dev@example.com)'

    def source(self, **options):
        return ClinikoSource(self.KEY, user_agent=self.USER_AGENT, base_url=self.api.url + '/v1',
                             sleep=self.clock.sleep, clock=self.clock, **options)

    def hosts(self):
        return {'https://api.au1.cliniko.com': self.api.url}

    def script_patients(self, failures=True):
        page1 = Reply(payload=fixture('cliniko/patients_page1.json', self.hosts()))
        page2 = Reply(payload=fixture('cliniko/patients_page2.json', self.hosts()))
        throttled = Reply(429, {'errors': 'Too many requests'},
                          headers={'X-RateLimit-Reset': int(time.time()) + 7})
        self.api.script('GET', '/v1/patients', *((Reply(500, {'error': 'boom'}), page1) if failures else (page1,)))
        self.api.script('GET', '/v1/patients', *((throttled, page2) if failures else (page2,)),
                        query={'page': '2'})
        self.api.script('GET', '/v1/patients/archived',
                        Reply(payload=fixture('cliniko/patients_archived.json', self.hosts())))

    def test_shard_from_key_and_mandatory_user_agent(self):
        self.assertEqual(ClinikoSource('abc-uk1', user_agent=self.USER_AGENT).http.base_url,
                         'https://api.uk1.cliniko.com/v1')
        self.assertEqual(ClinikoSource('abcdef', user_agent=self.USER_AGENT).http.base_url,
                         'https://api.au1.cliniko.com/v1', "a key without suffix lives on au1")
        self.assertEqual(ClinikoSource('ab-cd-notashard', user_agent=self.USER_AGENT).shard, 'au1')
        with self.assertRaisesRegex(ConnectorError, 'User-Agent'):
            ClinikoSource('abc-au2', user_agent='crm_migration')

    def test_pages_flattened_with_delta_retry_and_429(self):
        self.script_patients()
        source = self.source()
        rows = list(source.iter_rows('patients', since=SINCE))

        self.assertEqual([r['id'] for r in rows], ['1', '1234567890123456789', '3', '4'],
                         "int64 ids are text, archived patients come in a second pass")
        self.assertEqual([r['_line_nr'] for r in rows], [1, 2, 3, 4])
        first = rows[0]
        self.assertEqual(first['phone_numbers'], '61444444444; 61399999999')
        self.assertEqual((first['phone_mobile'], first['phone_home'], first['phone_work']),
                         ('61444444444', '61399999999', ''))
        self.assertEqual(first['cf_policy_number'], 'ABC-12345')
        self.assertEqual((first['concession_type_id'], first['referring_doctor_id']), ('123', '123'))
        self.assertFalse([key for key in first if 'links' in key or key.startswith('custom_fields')])
        self.assertIn(('cf_policy_number', 'Policy number'), dict(
            (name, headers) for name, _label, headers in source.objects())['patients'])

        listed = self.api.requests('GET', '/v1/patients')
        self.assertEqual(listed[0].query['q[]'], ['updated_at:>%s' % SINCE_TEXT])
        self.assertEqual(listed[0].param('per_page'), '100')
        self.assertEqual(self.api.requests('GET', '/v1/patients/archived')[0].query['q[]'],
                         ['updated_at:>%s' % SINCE_TEXT], "every pass gets the delta filter")
        self.assertEqual([r.param('page') for r in listed], [None, None, '2', '2'],
                         "the 500 and the 429 were each retried once")
        self.assertTrue(any(5 <= wait <= 8 for wait in self.clock.sleeps),
                        "waited until X-RateLimit-Reset: %s" % self.clock.sleeps)
        basic = 'Basic ' + base64.b64encode(('%s:' % self.KEY).encode()).decode()
        self.assertEqual(listed[0].headers['authorization'], basic)
        self.assertEqual(listed[0].headers['user-agent'], self.USER_AGENT)
        self.assertEqual(listed[0].headers['accept'], 'application/json')

    def test_resume_from_cursor_skips_earlier_pages(self):
        self.script_patients(failures=False)
        source = self.source()
        rows = list(source.iter_rows('patients'))
        self.api.clear_log()

        resumed = list(source.iter_rows('patients', cursor=rows[2]['_cursor'], offset=rows[2]['_index'] + 1))
        self.assertEqual([(r['id'], r['_line_nr']) for r in resumed], [('4', 4)])
        self.assertEqual([(r.path, r.param('page')) for r in self.api.log],
                         [('/v1/patients', '2'), ('/v1/patients/archived', None)],
                         "page 1 is not read again")

        within_page = list(source.iter_rows('patients', cursor=rows[0]['_cursor'], offset=rows[0]['_index'] + 1))
        self.assertEqual([r['_line_nr'] for r in within_page], [2, 3, 4])
        self.assertEqual([r['id'] for r in source.iter_rows('patients', offset=3)], ['4'], "offset fallback")
        with self.assertRaisesRegex(ConnectorError, 'belongs to'):
            list(source.iter_rows('appointments', cursor=rows[0]['_cursor']))

    def test_persistent_429_hands_back_a_resumable_error(self):
        self.api.script('GET', '/v1/patients', Reply(429, {}, headers={'X-RateLimit-Reset': int(time.time()) + 30}))
        with self.assertRaises(RateLimitedError) as caught:
            list(self.source().iter_rows('patients'))
        self.assertTrue(caught.exception.resumable)
        self.assertAlmostEqual(caught.exception.retry_after, 30, delta=2)
        self.assertEqual(len(self.api.log), 4, "one request and three bounded retries")
        self.assertSecretsAbsent(str(caught.exception), self.KEY)

    def test_rate_limiter_spaces_requests(self):
        self.script_patients(failures=False)
        self.api.script('GET', '/v1/individual_appointments',
                        Reply(payload=dict(fixture('cliniko/individual_appointments.json', self.hosts()),
                                           links={})))
        source = self.source(max_requests_per_minute=2)
        list(source.iter_rows('patients'))
        rows = list(source.iter_rows('appointments'))
        self.assertWindowRespected(self.api.log, 2)
        self.assertEqual(rows[0]['appointment_type_id'], '514810976034364376')
        self.assertEqual(self.api.requests(path='/v1/individual_appointments')[0].query['q[]'],
                         ['archived_at:*', 'cancelled_at:*'], "archived and cancelled included")

    def test_download_redirect_leaves_credentials_behind(self):
        self.api.script('GET', '/v1/patient_attachments',
                        Reply(payload=fixture('cliniko/patient_attachments.json', self.hosts())))
        self.api.script('GET', '/v1/patient_attachments/1/content',
                        Reply(303, headers={'Location': self.files.url + '/bucket/1.txt?X-Amz-Signature=sig'}))
        self.files.script('GET', '/bucket/1.txt', Reply(body=b'the file content'))
        source = self.source()
        rows = list(source.iter_rows('patient_attachments'))
        self.assertEqual([r['download_ref'] for r in rows], ['1', ''],
                         "an attachment still processing has no content yet")
        self.assertEqual((rows[0]['patient_id'], rows[0]['user_id']), ('123', '456'))
        self.assertEqual(rows[0]['content_url'], self.api.url + '/v1/patient_attachments/1/content')

        self.assertEqual(source.download(rows[0]['download_ref']), b'the file content')
        self.assertIn('authorization', self.api.requests(path='/v1/patient_attachments/1/content')[0].headers)
        self.assertEqual(len(self.files.log), 1)
        self.assertNotIn('authorization', self.files.log[0].headers)
        self.assertEqual(self.files.log[0].param('X-Amz-Signature'), 'sig')

    def test_errors_never_show_the_key(self):
        echo = Reply(400, {'message': 'invalid filter for key %s' % self.KEY})
        self.api.script('GET', '/v1/patients', echo)
        self.api.script('GET', '/v1/invoices', Reply(401, {'message': 'bad credentials'}))
        self.api.script('GET', '/v1/users', Reply(200, body=b'<html>maintenance</html>'))
        source = self.source()
        with self.assertLogs(http_client._logger, level='DEBUG') as logs:
            with self.assertRaises(HttpStatusError) as bad_request:
                list(source.iter_rows('patients'))
            with self.assertRaises(AuthError) as unauthorized:
                list(source.iter_rows('invoices'))
            with self.assertRaises(ConnectorError) as not_json:
                list(source.iter_rows('users'))
        self.assertIn('***', str(bad_request.exception))
        self.assertIn('HTTP 401', str(unauthorized.exception))
        self.assertIn('HTTP 200', str(not_json.exception))
        self.assertIn('/v1/users', str(not_json.exception))
        basic = base64.b64encode(('%s:' % self.KEY).encode()).decode()
        for text in [str(bad_request.exception), str(unauthorized.exception), str(not_json.exception)] + logs.output:
            self.assertSecretsAbsent(text, self.KEY, self.KEY.rsplit('-', 1)[0], basic)

    def test_connection_counts_and_permission_gotchas(self):
        self.api.script('GET', '/v1/user', Reply(payload=fixture('cliniko/user.json', self.hosts())))
        self.api.script('GET', '/v1/patients', Reply(payload={'patients': [], 'total_entries': 3, 'links': {}}))
        self.api.script('GET', '/v1/patients/archived',
                        Reply(payload={'patients': [], 'total_entries': 1, 'links': {}}))
        self.api.script('GET', '/v1/invoices', Reply(403, {'message': 'Forbidden'}))
        result = self.source().test_connection()
        self.assertTrue(result['ok'])
        self.assertEqual(result['objects']['patients'], 4, "active + archived")
        self.assertIsNone(result['objects']['invoices'])
        messages = '\n'.join(result['messages'])
        self.assertIn('not an administrator', messages)
        self.assertIn('Invoices: Cliniko refused access (HTTP 403', messages)
        self.assertIn('administrator access', messages)
        self.assertEqual(self.api.requests(path='/v1/patients')[0].param('per_page'), '1',
                         "counting reads one record, not a page")

        self.api.script('GET', '/v1/user', Reply(401, {'message': 'bad key'}))
        refused = self.source().test_connection()
        self.assertFalse(refused['ok'])
        self.assertSecretsAbsent('\n'.join(refused['messages']), self.KEY)


@tagged('crm_migration')
class TestClioConnector(ApiCase):
    TOKEN = 'access-token-0001-secret'
    REFRESH = 'refresh-token-0001-secret'
    CLIENT_SECRET = 'client-secret-0001'

    def source(self, **options):
        return ClioSource(self.TOKEN, base_url=self.api.url + '/api/v4',
                          sleep=self.clock.sleep, clock=self.clock, **options)

    def hosts(self):
        return {'https://app.clio.com': self.api.url}

    def test_region_base_urls(self):
        for region, host in (('us', 'app.clio.com'), ('eu', 'eu.app.clio.com'),
                             ('ca', 'ca.app.clio.com'), ('au', 'au.app.clio.com')):
            self.assertEqual(ClioSource('t0ken', region=region).http.base_url, 'https://%s/api/v4' % host)
        self.assertEqual(token_url_for('https://eu.app.clio.com/api/v4'), 'https://eu.app.clio.com/oauth/token')
        with self.assertRaisesRegex(ConnectorError, 'region'):
            ClioSource('t0ken', region='uk')
        self.assertEqual(ClioSource('t0ken').http.per_minute, 50)

    def test_cursor_pages_fields_delta_and_flattening(self):
        page1 = fixture('clio/contacts_page1.json', self.hosts())
        self.api.script('GET', '/api/v4/contacts.json', Reply(500, {}), Reply(payload=page1))
        self.api.script('GET', '/api/v4/contacts.json',
                        Reply(429, {'message': 'Too Many Requests'}, headers={'Retry-After': '12'}),
                        Reply(payload=fixture('clio/contacts_page2.json', self.hosts())),
                        query={'page_token': 'xyx'})
        rows = list(self.source().iter_rows('contacts', since=SINCE))

        first_request = self.api.log[0]
        self.assertEqual(first_request.param('fields'), CONTACT_FIELDS)
        self.assertEqual(first_request.param('order'), 'id(asc)')
        self.assertEqual(first_request.param('limit'), '200')
        self.assertEqual(first_request.param('updated_since'), SINCE_TEXT)
        self.assertEqual(first_request.headers['authorization'], 'Bearer %s' % self.TOKEN)
        contact_requests = [r for r in self.api.log if r.path == '/api/v4/contacts.json']
        self.assertEqual([r.param('page_token') for r in contact_requests], [None, None, 'xyx', 'xyx'],
                         "500 retried, 429 waited out, then meta.paging.next followed verbatim")
        self.assertIn(12.0, self.clock.sleeps, "Retry-After honoured")

        self.assertEqual([r['id'] for r in rows], ['501', '502', '503'])
        jane = rows[0]
        self.assertEqual((jane['company_id'], jane['company_name']), ('502', 'Smith Holdings'))
        self.assertEqual(jane['email_addresses'], 'jane@example.com; jane.home@example.com')
        self.assertEqual(jane['phone_numbers'], '+1 604 555 0100; +1 604 555 0199')
        self.assertEqual((jane['address_city'], jane['address_postal_code']), ('Vancouver', 'V6B 1A1'))
        # No permission to read the field definitions here (404): the option id stays.
        self.assertEqual((jane['cf_referral_source'], jane['cf_client_tier']), ('Website', 3401))
        self.assertNotIn('etag', jane)
        self.assertEqual(rows[1]['company_id'], '', "a company has no company")
        self.assertNotIn('company', rows[1], "a null nested object is not a column")
        self.assertLessEqual({key for key, _label in dict(
            (name, headers) for name, _label, headers in self.source().objects())['contacts']}, set(rows[2]),
            "every declared column is on every row")

    def test_record_custom_fields_read_as_their_name(self):
        # A contact- or matter-type custom field holds a record, not a text: its name is kept.
        self.api.script('GET', '/api/v4/matters.json', Reply(payload={'data': [{
            'id': 700, 'display_number': '00001-Smith', 'custom_field_values': [
                {'id': 'contact-18', 'field_name': 'Opposing Party', 'value': {'id': 9, 'name': 'Evil Corp'}},
                {'id': 'matter-19', 'field_name': 'Related Matter', 'value': {'id': 701, 'display_number': '00002'}},
                {'id': 'numeric-20', 'field_name': 'Claim', 'value': 1200.5}]}], 'meta': {'paging': {}, 'records': 1}}))
        row = next(self.source().iter_rows('matters'))
        self.assertEqual((row['cf_opposing_party'], row['cf_related_matter'], row['cf_claim']),
                         ('Evil Corp', '00002', 1200.5))

    def test_count_from_meta_records(self):
        self.api.script('GET', '/api/v4/contacts.json',
                        Reply(payload=fixture('clio/contacts_page2.json', self.hosts())))
        self.assertEqual(self.source().count('contacts'), 3)
        self.assertEqual(self.api.log[0].param('limit'), '1')

    def test_notes_in_two_passes_and_resume_in_the_second(self):
        self.api.script('GET', '/api/v4/notes.json', Reply(payload=fixture('clio/notes_matter.json')),
                        query={'type': 'Matter'})
        self.api.script('GET', '/api/v4/notes.json', Reply(payload=fixture('clio/notes_contact.json')),
                        query={'type': 'Contact'})
        source = self.source()
        rows = list(source.iter_rows('notes'))
        self.assertEqual([(r['id'], r['type']) for r in rows],
                         [('9001', 'Matter'), ('9002', 'Matter'), ('9100', 'Contact')])
        self.assertEqual((rows[0]['matter_id'], rows[2]['contact_id'], rows[2]['author_email']),
                         ('700', '501', 'bob@firm.example'))
        self.api.clear_log()
        resumed = list(source.iter_rows('notes', cursor=rows[2]['_cursor'], offset=rows[2]['_index']))
        self.assertEqual([(r['id'], r['_line_nr']) for r in resumed], [('9100', 3)])
        self.assertEqual([r.param('type') for r in self.api.log], ['Contact'], "the Matter pass is not re-read")

    def test_expired_token_is_renewed_once_and_handed_over(self):
        users = {'data': [{'id': 1, 'name': 'Alice Lawyer', 'email': 'alice@firm.example'}],
                 'meta': {'paging': {}, 'records': 1}}
        self.api.script('GET', '/api/v4/users.json',
                        Reply(401, {'error': {'type': 'invalid_token', 'message': 'expired'}}), Reply(payload=users))
        self.api.script('POST', '/oauth/token', Reply(payload=fixture('clio/token.json')))
        renewed = []
        source = self.source(refresh_token=self.REFRESH, client_id='app-id', client_secret=self.CLIENT_SECRET,
                             on_token_refresh=renewed.append)
        rows = list(source.iter_rows('users'))
        self.assertEqual(rows[0]['email'], 'alice@firm.example')
        self.assertEqual([(r.method, r.path) for r in self.api.log],
                         [('GET', '/api/v4/users.json'), ('POST', '/oauth/token'), ('GET', '/api/v4/users.json')])
        token_request = self.api.log[1]
        self.assertIn(b'grant_type=refresh_token', token_request.body)
        self.assertIn(('refresh_token=%s' % self.REFRESH).encode(), token_request.body)
        self.assertEqual(self.api.log[2].headers['authorization'], 'Bearer renewed-access-token-0042')
        self.assertEqual([t['access_token'] for t in renewed], ['renewed-access-token-0042'])
        self.assertEqual(renewed[0]['refresh_token'], 'renewed-refresh-token-0042')

    def test_refused_renewal_is_an_auth_error_without_secrets(self):
        self.api.script('GET', '/api/v4/users.json', Reply(401, {'error': 'invalid_token'}))
        self.api.script('POST', '/oauth/token', Reply(400, {'error': 'invalid_grant',
                                                            'error_description': 'refresh %s revoked' % self.REFRESH}))
        source = self.source(refresh_token=self.REFRESH, client_id='app-id', client_secret=self.CLIENT_SECRET)
        with self.assertRaisesRegex(AuthError, 'Connect Clio again') as caught:
            list(source.iter_rows('users'))
        self.assertEqual(len(self.api.requests('POST', '/oauth/token')), 1, "renewal is tried once")
        self.assertSecretsAbsent(str(caught.exception), self.TOKEN, self.REFRESH, self.CLIENT_SECRET)

    def test_download_303_to_storage_without_bearer(self):
        self.api.script('GET', '/api/v4/documents/42/download.json',
                        Reply(303, headers={'Location': self.files.url + '/docs/42.pdf?X-Amz-Signature=s1gn4ture'}))
        self.api.script('GET', '/api/v4/documents/43/download.json',
                        Reply(303, headers={'Location': self.files.url + '/docs/43.pdf?X-Amz-Signature=s1gn4ture'}))
        self.files.script('GET', '/docs/42.pdf', Reply(body=b'%PDF-1.7 document'))
        source = self.source()
        self.assertEqual(source.download('42'), b'%PDF-1.7 document')
        self.assertEqual(self.api.log[0].headers['authorization'], 'Bearer %s' % self.TOKEN)
        self.assertNotIn('authorization', self.files.log[0].headers)
        with self.assertRaises(HttpStatusError) as caught:
            source.download('43')  # not on the storage host: 404
        self.assertIn('HTTP 404', str(caught.exception))
        self.assertNotIn('s1gn4ture', str(caught.exception), "a pre-signed query is a credential")

    def test_rate_limiter_and_exhausted_window(self):
        reset = int(time.time()) + 20
        page1 = Reply(payload=fixture('clio/activities_page1.json', self.hosts()),
                      headers={'X-RateLimit-Limit': '50', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': reset})
        self.api.script('GET', '/api/v4/activities.json', page1)
        self.api.script('GET', '/api/v4/activities.json', Reply(payload=fixture('clio/activities_page2.json')),
                        query={'page_token': 'xyx'})
        source = self.source()
        list(source.iter_rows('activities'))
        first, second = self.api.log
        self.assertGreaterEqual(second.time - first.time, 18, "waited for the announced window reset")

        self.api.clear_log()
        self.api.script('GET', '/api/v4/notes.json', Reply(payload=fixture('clio/notes_matter.json')))
        self.api.script(
            'GET', '/api/v4/activities.json', Reply(payload=fixture('clio/activities_page1.json', self.hosts()))
        )
        limited = self.source(max_requests_per_minute=2)
        list(limited.iter_rows('activities'))
        list(limited.iter_rows('notes'))
        self.assertWindowRespected(self.api.log, 2)


@tagged('crm_migration')
class TestNocrmConnector(ApiCase):
    KEY = 'nocrm-api-key-0001-secret'

    def source(self, page_size=2, **options):
        source = NocrmSource(self.KEY, base_url=self.api.url + '/api/v2',
                             sleep=self.clock.sleep, clock=self.clock, **options)
        source.page_size = page_size  # small pages: a few records span several
        return source

    def script_leads(self, total=3, first_failure=False):
        page1 = Reply(payload=fixture('nocrm/leads_page1.json'), headers={'X-TOTAL-COUNT': total})
        replies = (Reply(502, body=b'Bad Gateway'), page1) if first_failure else (page1,)
        self.api.script('GET', '/api/v2/leads', *replies, query={'offset': '0'})
        self.api.script('GET', '/api/v2/leads', Reply(payload=fixture('nocrm/leads_page2.json'),
                                                      headers={'X-TOTAL-COUNT': total}), query={'offset': '2'})

    def test_subdomain_base_url(self):
        self.assertEqual(NocrmSource(self.KEY, subdomain='acme').http.base_url, 'https://acme.nocrm.io/api/v2')
        self.assertEqual(NocrmSource(self.KEY, subdomain='https://acme.nocrm.io/').http.base_url,
                         'https://acme.nocrm.io/api/v2')
        with self.assertRaisesRegex(ConnectorError, 'subdomain'):
            NocrmSource(self.KEY, subdomain='acme corp')

    def test_offset_pages_delta_and_flattening(self):
        self.script_leads(first_failure=True)
        rows = list(self.source().iter_rows('leads', since=SINCE))
        first_request = self.api.log[0]
        self.assertEqual(first_request.headers['x-api-key'], self.KEY)
        self.assertEqual(first_request.param('updated_after'), SINCE_TEXT)
        self.assertEqual((first_request.param('order'), first_request.param('direction')), ('id', 'asc'))
        self.assertEqual([(r.param('offset'), r.param('limit')) for r in self.api.log],
                         [('0', '2'), ('0', '2'), ('2', '2')],
                         "the 502 is retried; the short page ends the read")

        self.assertEqual([r['id'] for r in rows], ['8113', '8114', '8115'])
        lead = rows[0]
        self.assertEqual((lead['user_id'], lead['step_id'], lead['client_folder_id']), ('12', '1189', ''))
        self.assertEqual(lead['tags'], 'vip; trade show')
        self.assertEqual((lead['cf_firstname'], lead['cf_email']), ('Ada', 'ada@example.com'))
        self.assertNotIn('html_description', lead)
        self.assertEqual(rows[1]['client_folder_id'], '55')

    def test_429_is_raised_at_once(self):
        self.api.script('GET', '/api/v2/leads', Reply(
            429, {'error': 429, 'message': 'Too many requests', 'type': 'too_many_requests'},
            headers={'API-RETRY-AFTER': '3600', 'API-LIMIT-RESET': str(int(time.time()) + 3600)}))
        with self.assertRaises(RateLimitedError) as caught:
            list(self.source().iter_rows('leads'))
        self.assertEqual(len(self.api.log), 1, "never insist after a noCRM 429")
        self.assertEqual(self.clock.sleeps, [])
        self.assertEqual(caught.exception.retry_after, 3600)
        self.assertTrue(caught.exception.resumable)
        self.assertIn('deactivate', str(caught.exception))
        self.assertSecretsAbsent(str(caught.exception), self.KEY)

    def test_comments_per_lead_and_resume_without_earlier_leads(self):
        self.script_leads()
        for lead_id in ('8113', '8114', '8115'):
            self.api.script('GET', '/api/v2/leads/%s/comments' % lead_id,
                            Reply(payload=fixture('nocrm/comments_%s.json' % lead_id)))
        source = self.source()
        rows = list(source.iter_rows('lead_comments'))
        self.assertEqual([(r['id'], r['lead_id'], r['_line_nr']) for r in rows],
                         [('501001', '8113', 1), ('501002', '8113', 2), ('501003', '8114', 3)])
        email = rows[1]
        self.assertEqual((email['content'], email['is_email'], email['email_subject']),
                         ('Please find our quote attached.', True, 'Your quote'))
        self.assertEqual((email['user_email'], email['attachments_name']), ('lea@seller.example', 'quote.pdf'))

        self.api.clear_log()
        resumed = list(source.iter_rows('lead_comments', cursor=rows[2]['_cursor'], offset=rows[2]['_index'] + 1))
        self.assertEqual(resumed, [], "lead 8115 has no comment")
        paths = [r.path for r in self.api.log]
        self.assertNotIn('/api/v2/leads/8113/comments', paths, "comments before the cursor are not re-read")
        self.assertEqual(paths, ['/api/v2/leads', '/api/v2/leads/8114/comments',
                                 '/api/v2/leads', '/api/v2/leads/8115/comments'],
                         "one page of leads to find 8114, its comments, then the leads after it")
        self.assertEqual([r.param('offset') for r in self.api.requests(path='/api/v2/leads')], ['0', '2'])

    def test_attachments_two_steps_without_key_on_storage(self):
        self.script_leads(total=2)
        s3 = {'https://nocrm-files.s3.amazonaws.com': self.files.url}
        self.api.script(
            'GET', '/api/v2/leads/8113/attachments', Reply(payload=fixture('nocrm/attachments_8113.json', s3))
        )
        self.api.script('GET', '/api/v2/leads/8114/attachments', Reply(payload=[]))
        self.api.script(
            'GET', '/api/v2/leads/8113/attachments/77', Reply(payload=fixture('nocrm/attachment_77.json', s3))
        )
        self.api.script('GET', '/api/v2/leads/8113/attachments/79',
                        Reply(302, headers={'Location': self.files.url + '/attachments/79/scan.png'}))
        self.files.script('GET', '/attachments/77/contract.pdf', Reply(body=b'%PDF-1.4 contract'))
        self.files.script('GET', '/attachments/79/scan.png', Reply(body=b'\x89PNG scan'))
        source = self.source()
        rows = list(source.iter_rows('lead_attachments'))
        self.assertEqual([(r['id'], r['lead_id'], r['download_ref']) for r in rows],
                         [('77', '8113', '8113/77'), ('78', '8113', '')])
        self.assertEqual(rows[0]['url'], '', "a short-lived signed URL is not kept")
        self.assertEqual(rows[1]['url'], 'https://www.dropbox.com/sh/example')

        self.assertEqual(source.download('8113/77'), b'%PDF-1.4 contract')
        self.assertEqual(source.download('8113/79'), b'\x89PNG scan')
        self.assertEqual(self.files.log[0].param('X-Amz-Expires'), '180', "the signed URL is used as given")
        for entry in self.files.log:
            self.assertNotIn('x-api-key', entry.headers)
        with self.assertRaises(ConnectorError):
            source.download('77')

    def test_quota_estimate_and_refusal(self):
        full = NocrmSource(self.KEY, subdomain='acme')
        # 8 unpaged lists + spreadsheets + 3 pages of leads + 250 comment calls
        # + 250 action histories + 250 attachment lists + 10 signed URLs.
        self.assertEqual(full.estimate_requests({'leads': 250, 'lead_attachments': 10}), 772)
        self.assertEqual(full.estimate_requests({'leads': 250}, ['leads', 'lead_comments']), 253)

        self.api.script('GET', '/api/v2/leads', Reply(payload=fixture('nocrm/leads_page2.json'),
                                                      headers={'X-TOTAL-COUNT': 250}), query={'limit': '1'})
        source = self.source(daily_budget_remaining=10)
        with self.assertRaises(QuotaExceededError) as caught:
            source.iter_rows('lead_comments')
        error = caught.exception
        self.assertEqual((error.estimate, error.remaining), (250, 9), "the count itself cost one request")
        self.assertTrue(error.resumable)
        self.assertIn('250', str(error))
        self.assertEqual([r.path for r in self.api.log], ['/api/v2/leads'], "refused before reading comments")

        self.api.script('GET', '/api/v2/users', Reply(payload=[{'id': 12, 'email': 'lea@seller.example'}]))
        self.assertEqual([r['id'] for r in source.iter_rows('users')], ['12'], "a one-request read fits")
        self.assertEqual(source.requests_remaining, 8)

    def test_connection_spends_three_requests(self):
        self.api.script('GET', '/api/v2/ping', Reply(payload=fixture('nocrm/ping.json')))
        self.api.script('GET', '/api/v2/leads', Reply(payload=[], headers={'X-TOTAL-COUNT': 250}))
        self.api.script('GET', '/api/v2/spreadsheets', Reply(payload=[], headers={'X-TOTAL-COUNT': 0}))
        result = self.source(page_size=100, daily_budget_remaining=1500).test_connection()
        self.assertTrue(result['ok'])
        self.assertEqual((result['objects']['leads'], result['objects']['spreadsheets']), (250, 0))
        self.assertIsNone(result['objects']['users'], "unpaged lists are not downloaded to be counted")
        self.assertEqual(len(self.api.log), 3)
        messages = '\n'.join(result['messages'])
        self.assertIn('Your API key is correct.', messages)
        self.assertIn('about 762 requests', messages)
        self.assertIn('1497 remain', messages)

    def test_starter_cap_is_flagged(self):
        self.api.script('GET', '/api/v2/ping', Reply(payload=fixture('nocrm/ping.json')))
        self.api.script('GET', '/api/v2/leads', Reply(payload=[], headers={'X-TOTAL-COUNT': 500}))
        self.api.script('GET', '/api/v2/spreadsheets', Reply(payload=[], headers={'X-TOTAL-COUNT': 0}))
        messages = '\n'.join(self.source(page_size=100).test_connection()['messages'])
        self.assertIn("exactly 500 leads, the Starter plan's cap", messages)

    def test_rejected_key_is_explained_without_showing_it(self):
        self.api.script('GET', '/api/v2/ping', Reply(401, {
            'error': 401, 'message': 'Unauthorized: invalid api_key', 'type': 'unauthorized_invalid_token'}))
        result = self.source().test_connection()
        self.assertFalse(result['ok'])
        messages = '\n'.join(result['messages'])
        self.assertIn('unauthorized_invalid_token', messages)
        self.assertIn('API keys', messages)
        self.assertSecretsAbsent(messages, self.KEY)
