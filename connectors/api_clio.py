# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Clio Manage API v4 (https://docs.developers.clio.com/).

* OAuth 2.0 bearer token, one region per account: app.clio.com (US),
  eu./ca./au.app.clio.com.  An expired token (401) is renewed once with the
  refresh token; the new tokens are handed to ``on_token_refresh``.
* Without ``fields`` most endpoints return only ``id`` and ``etag``: every
  object asks for its fields explicitly, nested objects one level deep
  (``client{id,name}``; deeper nesting is a 400).
* Cursor paging: ``order=id(asc)``, ``limit`` up to 200, follow
  ``meta.paging.next``; ``meta.records`` is the total.
* Delta: ``updated_since`` (ISO 8601).
* 50 requests a minute per access token at peak hours; a 429 carries
  ``Retry-After`` (seconds).
"""
import logging
import time
from urllib.parse import urlsplit, urlunsplit

from . import clio_rates
from .api_base import ApiObject, ApiSource, Page, columns, flatten, iso_utc
from .api_exceptions import AuthError, HttpStatusError, RateLimitedError
from .exceptions import ConnectorError
from .http_client import HttpClient

_logger = logging.getLogger(__name__)

REGION_HOSTS = {
    'us': 'app.clio.com',
    'eu': 'eu.app.clio.com',
    'ca': 'ca.app.clio.com',
    'au': 'au.app.clio.com',
}
REQUESTS_PER_MINUTE = 50
PAGE_SIZE = 200
CURSOR_ORDER = ('order', 'id(asc)')
ADDRESS_KEYS = ('street', 'city', 'province', 'postal_code', 'country')

CONTACT_FIELDS = (
    'id,name,first_name,middle_name,last_name,type,prefix,title,primary_email_address,'
    'primary_phone_number,is_client,date_of_birth,created_at,updated_at,company{id,name},'
    'email_addresses{address,name,primary},phone_numbers{number,name,primary},'
    'addresses{street,city,province,postal_code,country,name,primary},'
    'custom_field_values{id,field_name,value}')
MATTER_FIELDS = (
    'id,number,display_number,description,status,billable,billing_method,open_date,close_date,'
    'pending_date,client_reference,created_at,updated_at,client{id,name},practice_area{id,name},'
    'matter_stage{id,name},responsible_attorney{id,name,email},originating_attorney{id,name,email},'
    'custom_field_values{id,field_name,value}')
ACTIVITY_FIELDS = (
    'id,type,date,quantity,quantity_in_hours,price,total,note,billed,non_billable,flat_rate,'
    'created_at,updated_at,matter{id,display_number},user{id,name,email},activity_description{id,name},'
    'expense_category{id,name},bill{id,number}')
BILL_FIELDS = (
    'id,number,issued_at,due_at,subject,state,kind,total,balance,paid,paid_at,due,sub_total,total_tax,'
    'created_at,updated_at,client{id,name},matters{id,display_number}')
NOTE_FIELDS = (
    'id,type,subject,detail,date,created_at,updated_at,matter{id,display_number},contact{id,name},'
    'author{id,name,email}')
DOCUMENT_FIELDS = (
    'id,name,filename,size,content_type,created_at,updated_at,deleted_at,parent{id,type},'
    'matter{id,display_number},contact{id,name},latest_document_version{id}')
USER_FIELDS = 'id,name,first_name,last_name,email,enabled,roles,rate,created_at,updated_at'
PRACTICE_AREA_FIELDS = 'id,name,category,code,created_at,updated_at'
CUSTOM_FIELD_FIELDS = (
    'id,name,parent_type,field_type,required,deleted,displayed,created_at,updated_at,'
    'picklist_options{id,option,deleted_at}')
# No order parameter on these two: the cursor alone pages them.
ACTIVITY_RATE_FIELDS = (
    'id,rate,flat_rate,contact_id,co_counsel_contact_id,created_at,updated_at,user{id,name,email},'
    'group{id,name,type}')
ACTIVITY_DESCRIPTION_FIELDS = (
    'id,name,category_type,type,default,created_at,updated_at,rate{amount,non_billable_amount,type,hierarchy}')
# Columns added to each contact from its client rates (read once from /activity_rates.json).
# Transaction types that name a direction (Clio's own words and the usual ledger ones);
# any other type takes its direction from the amount's sign.
DIRECTION_WORDS = {
    'inbound': ('deposit', 'receipt', 'trust request', 'funds in', 'interest', 'transfer in', 'credit'),
    'outbound': ('withdrawal', 'disbursement', 'bill payment', 'payment', 'refund', 'transfer out', 'funds out',
                 'bank fee', 'fee', 'debit'),
}
CLIENT_RATE_COLUMNS = 'client_rate client_rate_flat client_rate_count client_rates rate_pricelist_name'
CALENDAR_FIELDS = (
    'id,summary,description,location,start_at,end_at,all_day,recurrence_rule,created_at,updated_at,'
    'matter{id,display_number},attendees{id,name,type}')
BANK_TRANSACTION_FIELDS = (
    'id,date,amount,currency,description,transaction_type,funds_in,funds_out,created_at,updated_at,'
    'bank_account{id,name},matter{id,display_number},client{id,name}')


def _object(name, label, path, fields, cols, passes_params=((),), ordered=True):
    """``passes_params``: one tuple of extra pairs per pass over ``path``."""
    base = (('fields', fields),) + ((CURSOR_ORDER,) if ordered else ())
    return ApiObject(name=name, label=label, columns=cols,
                     passes=tuple((path, base + tuple(extra)) for extra in passes_params))


class ClioSource(ApiSource):
    vendor = 'Clio'
    page_size = PAGE_SIZE
    OBJECTS = (
        _object('users', 'Users (firm staff)', '/users.json', USER_FIELDS, columns(
            'id name first_name last_name email enabled roles rate created_at updated_at')),
        _object('practice_areas', 'Practice areas', '/practice_areas.json', PRACTICE_AREA_FIELDS,
                columns('id name category code created_at updated_at')),
        _object('custom_fields', 'Custom field definitions', '/custom_fields.json', CUSTOM_FIELD_FIELDS,
                columns('id name parent_type field_type required deleted displayed picklist_options_id '
                        'picklist_options_option created_at updated_at')),
        _object('contacts', 'Contacts (people and companies)', '/contacts.json', CONTACT_FIELDS, columns(
            'id type name prefix title first_name middle_name last_name company_id company_name is_client '
            'primary_email_address email_addresses primary_phone_number phone_numbers address_street '
            'address_city address_province address_postal_code address_country date_of_birth '
            'created_at updated_at ' + CLIENT_RATE_COLUMNS)),
        _object('matters', 'Matters', '/matters.json', MATTER_FIELDS, columns(
            'id number display_number description status billable billing_method open_date close_date '
            'pending_date client_reference client_id client_name practice_area_id practice_area_name '
            'matter_stage_id matter_stage_name responsible_attorney_id responsible_attorney_email '
            'originating_attorney_id originating_attorney_email created_at updated_at')),
        _object('activities', 'Activities (time and expense entries)', '/activities.json', ACTIVITY_FIELDS,
                columns('id type date quantity quantity_in_hours price total note billed non_billable '
                        'flat_rate matter_id matter_display_number user_id user_email '
                        'activity_description_id activity_description_name expense_category_name '
                        'bill_id bill_number created_at updated_at')),
        _object('bills', 'Bills', '/bills.json', BILL_FIELDS, columns(
            'id number issued_at due_at subject state kind total balance paid paid_at due sub_total '
            'total_tax client_id client_name matters_id matters_display_number created_at updated_at')),
        _object('activity_descriptions', 'Activity descriptions (activity rates)', '/activity_descriptions.json',
                ACTIVITY_DESCRIPTION_FIELDS, columns(
                    'id name category_type type default rate_amount rate_non_billable_amount rate_type '
                    'rate_hierarchy created_at updated_at'), ordered=False),
        _object('activity_rates', 'Client and co-counsel rates', '/activity_rates.json', ACTIVITY_RATE_FIELDS,
                columns('id rate flat_rate contact_id co_counsel_contact_id user_id user_name user_email group_id '
                        'group_name group_type created_at updated_at'), ordered=False),
        # The notes endpoint requires a type: one pass per kind.
        _object('notes', 'Notes (matter and contact)', '/notes.json', NOTE_FIELDS, columns(
            'id type subject detail date matter_id matter_display_number contact_id contact_name '
            'author_id author_email created_at updated_at'),
            passes_params=((('type', 'Matter'),), (('type', 'Contact'),))),
        _object('documents', 'Documents', '/documents.json', DOCUMENT_FIELDS, columns(
            'id name filename size content_type parent_id parent_type matter_id contact_id '
            'latest_document_version_id download_ref deleted_at created_at updated_at')),
        # calendar_entries takes no order parameter, hence no cursor order.
        _object('calendar_entries', 'Calendar entries', '/calendar_entries.json', CALENDAR_FIELDS, columns(
            'id summary description location start_at end_at all_day recurrence_rule matter_id '
            'matter_display_number attendees_id attendees_name attendees_type created_at updated_at'),
            ordered=False),
        # Trust requests are POST-only in v4; the trust ledger is listed here.
        _object('bank_transactions', 'Bank and trust transactions', '/bank_transactions.json',
                BANK_TRANSACTION_FIELDS, columns(
                    'id date amount currency description transaction_type direction funds_in funds_out '
                    'bank_account_id bank_account_name matter_id client_id client_name '
                    'created_at updated_at')),
    )

    def __init__(self, access_token, *, region='us', refresh_token=None, client_id=None,
                 client_secret=None, on_token_refresh=None, base_url=None, session=None,
                 sleep=time.sleep, clock=time.monotonic, max_requests_per_minute=None, timeout=None):
        if not access_token and not refresh_token:
            raise ConnectorError('Connect Clio first: an OAuth access token (or a refresh token) is needed.')
        if not base_url and region not in REGION_HOSTS:
            raise ConnectorError('Unknown Clio region %r: one of %s (an account lives in one region only).'
                                 % (region, ', '.join(REGION_HOSTS)))
        self.region = region
        self._access_token = access_token or ''
        self._refresh_token = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._on_token_refresh = on_token_refresh
        base_url = base_url or base_url_for(region)
        http = HttpClient(
            base_url, vendor='Clio', auth_headers=self._bearer(), headers={'Accept': 'application/json'},
            secrets=(access_token, refresh_token, client_secret), session=session, timeout=timeout,
            sleep=sleep, clock=clock, per_minute=max_requests_per_minute or REQUESTS_PER_MINUTE,
            on_unauthorized=self._renew_access_token,
            auth_hint='The access token is invalid or expired: connect Clio again (authorise the '
                      'application), or give the refresh token with the client id and secret.',
            forbidden_hint="The application's permissions (Clio developer portal > application > "
                           "permissions) or the authorising user's role do not allow reading this.")
        super().__init__(http)
        self._token_url = token_url_for(base_url)
        self._options = None
        self._rates = None

    # -- vendor hooks --------------------------------------------------

    def _page_params(self, spec, page_size):
        return [('limit', page_size)]

    def _delta_params(self, spec, since):
        return [('updated_since', iso_utc(since))]

    def _parse_page(self, spec, url, payload, response):
        records = payload.get('data') if isinstance(payload, dict) else None
        if not isinstance(records, list):
            raise ConnectorError('Clio answered %s without a "data" list; is the base URL the Clio '
                                 'Manage API of the right region?' % self.http.display_url(url))
        meta = payload.get('meta') or {}
        total = meta.get('records')
        return Page(records, (meta.get('paging') or {}).get('next') or None,
                    int(total) if total is not None else None)

    def _identity_messages(self):
        payload, _response = self.http.get_json(self.http.url(
            '/users/who_am_i.json', [('fields', 'id,name,email')]))
        user = payload.get('data') or {}
        return ['Connected to Clio (%s region) as %s <%s>.'
                % (self.region, user.get('name') or '?', user.get('email') or '?')]

    def _plan_messages(self, counts):
        return super()._plan_messages(counts) + [
            'Clio allows about %d requests a minute per access token at peak hours; a large firm '
            'reads faster off-peak.' % REQUESTS_PER_MINUTE,
            'Clio lists no deleted records (documents aside): a delta run cannot see deletions.',
            'Trust requests cannot be listed through the Clio API; the trust ledger is read from '
            'bank transactions.',
        ]

    def _flatten_record(self, spec, record):
        record = dict(record)
        record.pop('etag', None)  # a cache validator, not data
        row = {}
        for value in record.pop('custom_field_values', None) or ():
            content = value.get('value')
            if str(value.get('id') or '').startswith('picklist') and content not in (None, ''):
                # A picklist value is the option's id; its label lives in the field's definition.
                content = self._picklist_labels().get(str(content), content)
            if isinstance(content, dict):
                # A contact or matter custom field holds a record: keep what a person reads.
                content = content.get('name') or content.get('display_number') or content.get('id')
            self._put_custom_field(row, value.get('field_name') or value.get('id'), content)
        emails = record.pop('email_addresses', None)
        if emails is not None:
            row['email_addresses'] = '; '.join(e.get('address') or '' for e in emails if e.get('address'))
        phones = record.pop('phone_numbers', None)
        if phones is not None:
            row['phone_numbers'] = '; '.join(p.get('number') or '' for p in phones if p.get('number'))
        addresses = record.pop('addresses', None)
        if addresses:
            primary = next((a for a in addresses if a.get('primary')), addresses[0])
            row.update({'address_%s' % key: primary.get(key) or '' for key in ADDRESS_KEYS})
        row.update(flatten(record))
        if spec.name == 'contacts':
            row.update(self._client_rate_columns(row))
        if spec.name == 'documents':
            row['download_ref'] = '' if record.get('deleted_at') else row.get('id', '')
        if spec.name == 'bank_transactions':
            row['direction'] = transaction_direction(row)
        if spec.name == 'bills' and isinstance(row.get('paid'), bool):
            row['paid'] = paid_amount(row)
        return row

    def _picklist_labels(self):
        """``{option id: label}`` of every picklist custom field, read once per connector."""
        if self._options is None:
            options = {}
            try:
                for field in self.iter_rows('custom_fields'):
                    ids = str(field.get('picklist_options_id') or '').split('; ')
                    labels = str(field.get('picklist_options_option') or '').split('; ')
                    if len(ids) == len(labels):
                        options.update((i, label) for i, label in zip(ids, labels, strict=True) if i)
            except HttpStatusError as error:
                if not _missing_permission(error):
                    raise  # a rate limit, an outage or bad credentials stop the run, which resumes
                # Without the definitions (no permission to read them) the ids stay:
                # the mapping's value map can still turn them into labels.
                _logger.info('Clio custom field definitions unreadable (%s): picklists keep option ids', error)
            self._options = options
        return self._options

    def _client_rate_columns(self, row):
        """A client's most-used rate and all its rates, for its pricelist (seed: Rate Hierarchy)."""
        if self._rates is None:
            try:
                self._rates = clio_rates.client_rates(self.iter_rows('activity_rates'))
            except HttpStatusError as error:
                if not _missing_permission(error):
                    raise  # a rate limit, an outage or bad credentials stop the run, which resumes
                # Without permission to read rates the contacts still migrate, with no pricelist.
                _logger.info('Clio activity rates unreadable (%s): no client pricelists', error)
                self._rates = {}
        summary = self._rates.get(str(row.get('id') or ''))
        if not summary:
            return dict.fromkeys(CLIENT_RATE_COLUMNS.split(), '')
        return {
            'client_rate': summary['rate'],
            'client_rate_flat': summary['flat_rate'],
            'client_rate_count': summary['count'],
            'client_rates': summary['detail'],
            'rate_pricelist_name': 'Clio rates: %s' % (row.get('name') or row.get('id')),
        }

    def blueprints(self):
        """The rate hierarchy as JSON: only the most-used client rates become pricelists."""
        return {'rate_hierarchy': clio_rates.hierarchy(
            users=self.iter_rows('users'), descriptions=list(self.iter_rows('activity_descriptions')),
            rates=list(self.iter_rows('activity_rates')))}

    # -- OAuth ---------------------------------------------------------

    def _bearer(self):
        return {'Authorization': 'Bearer %s' % self._access_token}

    def _renew_access_token(self):
        """Called by the HTTP client on a 401: True when a new access token was obtained."""
        if not (self._refresh_token and self._client_id and self._client_secret):
            return False
        try:
            tokens = self.http.post_form(self._token_url, {
                'grant_type': 'refresh_token',
                'refresh_token': self._refresh_token,
                'client_id': self._client_id,
                'client_secret': self._client_secret,
            })
        except HttpStatusError as error:
            raise AuthError('Clio refused to renew the access token (%s). Connect Clio again: '
                            'authorise the application from the migration project.' % error,
                            status=401) from None
        if not isinstance(tokens, dict) or not tokens.get('access_token'):
            raise AuthError('Clio renewed no access token; connect Clio again.', status=401)
        self._access_token = tokens['access_token']
        self._refresh_token = tokens.get('refresh_token') or self._refresh_token
        self.http.add_secret(self._access_token)
        self.http.add_secret(self._refresh_token)
        self.http.set_auth_headers(self._bearer())
        if self._on_token_refresh is not None:
            self._on_token_refresh(dict(tokens, refresh_token=self._refresh_token))
        return True

    # -- downloads -----------------------------------------------------

    def download(self, ref):
        """A document's latest version; Clio answers 303 to a pre-signed URL on another host."""
        ref = str(ref or '').strip()
        if not ref:
            raise ConnectorError('Clio: no document to download (deleted documents have no content).')
        return self.http.download(self.http.url('/documents/%s/download.json' % ref))


def transaction_direction(row):
    """``inbound`` / ``outbound`` of a trust or bank entry: its type when the type says it,
    else the sign of ``amount`` (Clio lists a withdrawal as a negative amount), else which of
    ``funds_in`` / ``funds_out`` is set; ``''`` when nothing tells."""
    kind = ' '.join(str(row.get('transaction_type') or '').replace('_', ' ').split()).casefold()
    for direction, words in DIRECTION_WORDS.items():
        if kind in words:
            return direction
    for key, positive, negative in (('amount', 'inbound', 'outbound'), ('funds_in', 'inbound', None),
                                    ('funds_out', 'outbound', None)):
        try:
            number = float(row.get(key) or 0)
        except (TypeError, ValueError):
            continue
        if number > 0:
            return positive
        if number < 0 and negative:
            return negative
    return ''


def paid_amount(row):
    """The amount paid on a bill whose ``paid`` came as a yes/no flag: what its total and
    balance say (a partly paid bill included), else all of the total or nothing."""
    try:
        total = float(row.get('total') or 0)
    except (TypeError, ValueError):
        total = 0.0
    try:
        return round(total - float(row['balance']), 2)
    except (KeyError, TypeError, ValueError):
        return total if row.get('paid') else 0.0


def _missing_permission(error):
    """403/404 on an optional read: the credentials may not see it (a 401 was already retried)."""
    return not isinstance(error, RateLimitedError) and error.status in (403, 404)


def base_url_for(region):
    return 'https://%s/api/v4' % REGION_HOSTS[region]


def token_url_for(base_url):
    """The OAuth token endpoint lives on the API host, outside ``/api/v4``."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, '/oauth/token', '', ''))
