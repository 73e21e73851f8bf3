# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Cliniko API v1 (https://docs.api.cliniko.com/).

* HTTP Basic auth, the API key as user name; the key's ``-au2`` suffix
  names the shard, hence the host (``api.au2.cliniko.com``).
* A ``User-Agent`` of the form ``App name (contact@email)`` is mandatory:
  requests without one "may be automatically blocked".
* Lists: ``per_page`` up to 100, follow ``links.next``, ``total_entries``.
* Delta: ``q[]=updated_at:>2014-08-30T18:00:00Z``.  Archived and cancelled
  records are excluded by default, deleted ones only come from the
  ``/deleted`` routes (exposed as ``*_deleted`` objects).
* 200 requests a minute per user; a 429 carries ``X-RateLimit-Reset``.
"""
import base64
import dataclasses
import re
import time

from .api_base import ApiObject, ApiSource, Page, columns, flatten, iso_utc, link_id
from .exceptions import ConnectorError
from .http_client import HttpClient
from .tabular import normalize_header

SHARD_RE = re.compile(r'^[a-z]{2}\d{1,2}$', re.IGNORECASE)
DEFAULT_SHARD = 'au1'
# "APP_VENDOR_NAME (APP_VENDOR_EMAIL)" as the docs require.
USER_AGENT_RE = re.compile(r'^\s*\S.*\(\s*[^\s@()]+@[^\s@()]+\.[^\s@()]+\s*\)\s*$')
REQUESTS_PER_MINUTE = 200
PAGE_SIZE = 100
PHONE_TYPES = ('mobile', 'home', 'work', 'fax', 'other')
PHONE_KEYS = ('patient_phone_numbers', 'phone_numbers')
# Records without this filter hide what was archived or cancelled.
INCLUDE_ARCHIVED = (('q[]', 'archived_at:*'),)
INCLUDE_CANCELLED = (('q[]', 'cancelled_at:*'),)

PHONE_COLUMNS = 'phone_numbers ' + ' '.join('phone_%s' % kind for kind in PHONE_TYPES)
PATIENT_COLUMNS = columns(
    'id title first_name last_name preferred_first_name email date_of_birth gender '
    'address_1 address_2 address_3 city state post_code country ' + PHONE_COLUMNS + ' '
    'occupation emergency_contact notes old_reference_id medicare medicare_reference_number '
    'dva_card_number invoice_default_to invoice_email invoice_extra_information referral_source '
    'concession_type_id referring_doctor_id archived_at deleted_at created_at updated_at')
APPOINTMENT_COLUMNS = columns(
    'id starts_at ends_at patient_id patient_name practitioner_id appointment_type_id business_id '
    'notes cancelled_at cancellation_reason cancellation_note did_not_arrive patient_arrived '
    'archived_at deleted_at created_at updated_at')
INVOICE_COLUMNS = columns(
    'id number issue_date status status_description total_amount tax_amount net_amount notes '
    'patient_id practitioner_id appointment_id business_id closed_at deleted_at created_at updated_at')
INVOICE_ITEM_COLUMNS = columns(
    'id invoice_id billable_item_id name code quantity unit_price discount_percentage tax_name '
    'tax_rate total_including_tax deleted_at created_at updated_at')
# What an attendee row takes from its group appointment.
BOOKING_COLUMNS = ('starts_at', 'ends_at', 'practitioner_id', 'appointment_type_id', 'business_id')
TREATMENT_NOTE_COLUMNS = columns(
    'id title draft author_name patient_id practitioner_id booking_id attendee_id '
    'treatment_note_template_id content_text deleted_at created_at updated_at')


def _object(name, label, path, cols, record_key=None, extra_passes=(), params=(), **options):
    passes = ((path, tuple(params)),) + tuple((extra, tuple(params)) for extra in extra_passes)
    return ApiObject(name=name, label=label, columns=cols, passes=passes,
                     record_key=record_key or name, **options)


def _deleted(base, path, label):
    """The ``/deleted`` route of ``base``: same record shape, separate object."""
    return dataclasses.replace(base, name='%s_deleted' % base.name, label=label, passes=((path, ()),))


PATIENTS = _object('patients', 'Patients', '/patients', PATIENT_COLUMNS,
                   extra_passes=('/patients/archived',))
APPOINTMENTS = _object('appointments', 'Appointments', '/individual_appointments', APPOINTMENT_COLUMNS,
                       record_key='individual_appointments', params=INCLUDE_ARCHIVED + INCLUDE_CANCELLED)
INVOICES = _object('invoices', 'Invoices', '/invoices', INVOICE_COLUMNS)
INVOICE_ITEMS = _object('invoice_items', 'Invoice items', '/invoice_items', INVOICE_ITEM_COLUMNS)
TREATMENT_NOTES = _object('treatment_notes', 'Treatment notes', '/treatment_notes', TREATMENT_NOTE_COLUMNS)


class ClinikoSource(ApiSource):
    vendor = 'Cliniko'
    page_size = PAGE_SIZE
    OBJECTS = (
        _object('users', 'Users', '/users', columns(
            'id title first_name last_name email role time_zone user_active created_at updated_at')),
        # /practitioners lists active practitioners only.
        _object('practitioners', 'Practitioners', '/practitioners', columns(
            'id title first_name last_name display_name label designation user_id user_email '
            'show_in_online_bookings active created_at updated_at'),
            extra_passes=('/practitioners/inactive',)),
        _object('appointment_types', 'Appointment types', '/appointment_types', columns(
            'id name category description color duration_in_minutes show_in_online_bookings '
            'archived_at created_at updated_at'), extra_passes=('/appointment_types/archived',)),
        _object('concession_types', 'Concession types', '/concession_types', columns(
            'id name created_at updated_at')),
        _object('contacts', 'Contacts (referring doctors, third parties)', '/contacts', columns(
            'id title first_name last_name preferred_first_name company_name email type type_code '
            'provider_number ' + PHONE_COLUMNS + ' address_1 address_2 address_3 city state post_code '
            'country notes archived_at created_at updated_at')),
        _object('billable_items', 'Billable items', '/billable_items', columns(
            'id item_code item_type name price tax_id archived_at created_at updated_at')),
        # Stock items: cost and stock level, which billable items lack; the list price is ex tax.
        _object('products', 'Products (stock)', '/products', columns(
            'id item_code name product_supplier_name cost_price price_ex_tax stock_level notes serial_number '
            'tax_id archived_at created_at updated_at')),
        # The clinic's locations ("businesses"), named on appointments and invoices by business_id.
        _object('businesses', 'Businesses (clinic locations)', '/businesses', columns(
            'id business_name display_name address_1 address_2 city state post_code country country_code '
            'business_registration_name business_registration_value contact_information email_reply_to '
            'website_address show_in_online_bookings archived_at created_at updated_at')),
        PATIENTS,
        _deleted(PATIENTS, '/patients/deleted', 'Deleted patients'),
        APPOINTMENTS,
        _deleted(APPOINTMENTS, '/individual_appointments/deleted', 'Deleted appointments'),
        # Classes: one booking, several patients; each patient's place is an attendee.
        _object('group_appointments', 'Group appointments', '/group_appointments', columns(
            'id starts_at ends_at max_attendees notes patient_ids appointment_type_id appointment_type_name '
            'business_id practitioner_id repeats archived_at deleted_at created_at updated_at'),
            params=INCLUDE_ARCHIVED),
        # /attendees leaves the cancelled ones out: they have their own route.  booking_id is the
        # group appointment's id (an attendee's booking is its group appointment).
        _object('attendees', 'Group appointment attendees', '/attendees', columns(
            'id booking_id patient_id arrived cancelled_at cancellation_reason cancellation_reason_description '
            'cancellation_note notes invoice_status deleted_at created_at updated_at '
            + ' '.join(BOOKING_COLUMNS) + ' appointment_type_name group_appointment_id'),
            extra_passes=('/attendees/cancelled',)),
        INVOICES,
        _deleted(INVOICES, '/invoices/deleted', 'Deleted invoices'),
        INVOICE_ITEMS,
        _deleted(INVOICE_ITEMS, '/invoice_items/deleted', 'Deleted invoice items'),
        TREATMENT_NOTES,
        _deleted(TREATMENT_NOTES, '/treatment_notes/deleted', 'Deleted treatment notes'),
        _object('patient_attachments', 'Patient attachments', '/patient_attachments', columns(
            'id filename content_type size description processing_completed patient_id user_id '
            'content_url download_ref created_at updated_at')),
        # Intake and consent forms: the answers come as content.sections, like treatment notes.
        _object('patient_forms', 'Patient forms (intake)', '/patient_forms', columns(
            'id name completed_at url restricted_to_practitioner content_text patient_id attendee_id '
            'booking_id archived_at created_at updated_at'), params=INCLUDE_ARCHIVED),
        _object('communications', 'Communications (SMS, e-mails, calls)', '/communications', columns(
            'id type type_code category category_code direction_code content to from patient_id '
            'archived_at deleted_at created_at updated_at')),
    )

    def __init__(self, api_key, *, user_agent, base_url=None, session=None, sleep=time.sleep,
                 clock=time.monotonic, max_requests_per_minute=None, timeout=None):
        api_key = (api_key or '').strip()
        if not api_key:
            raise ConnectorError('Enter a Cliniko API key (Cliniko > My info > Manage API keys).')
        if not USER_AGENT_RE.match(user_agent or ''):
            raise ConnectorError('Cliniko requires a User-Agent naming the application and a contact '
                                 'e-mail, e.g. "Acme migration (it@acme.example)"; got %r.' % (user_agent,))
        self.shard = shard_of(api_key)
        http = HttpClient(
            base_url or base_url_for(api_key), vendor='Cliniko',
            auth_headers={'Authorization': basic_auth(api_key)},
            headers={'Accept': 'application/json', 'User-Agent': user_agent.strip()},
            secrets=(api_key, api_key.rsplit('-', 1)[0]), session=session, timeout=timeout,
            sleep=sleep, clock=clock, per_minute=max_requests_per_minute or REQUESTS_PER_MINUTE,
            auth_hint='Check the API key and that the user who created it is still active in Cliniko.',
            forbidden_hint='A Cliniko API key has the permissions of the user who created it: '
                           'use the key of a user with administrator access.')
        super().__init__(http)

    # -- vendor hooks --------------------------------------------------

    def _page_params(self, spec, page_size):
        return [('per_page', page_size)]

    def _delta_params(self, spec, since):
        return [('q[]', 'updated_at:>%s' % iso_utc(since))]

    def _parse_page(self, spec, url, payload, response):
        records = payload.get(spec.record_key) if isinstance(payload, dict) else None
        if not isinstance(records, list):
            raise ConnectorError('Cliniko answered %s without a %r list; is the base URL an API '
                                 'address (https://api.<shard>.cliniko.com/v1)?'
                                 % (self.http.display_url(url), spec.record_key))
        links = payload.get('links') or {}
        # The older docs spell the total "total_entires".
        total = payload.get('total_entries', payload.get('total_entires'))
        return Page(records, links.get('next') or None, int(total) if total is not None else None)

    def _identity_messages(self):
        user, _response = self.http.get_json(self.http.url('/user'))
        name = ' '.join(part for part in (user.get('first_name'), user.get('last_name')) if part)
        messages = ['Connected to Cliniko (shard %s) as %s <%s>, role %s.'
                    % (self.shard, name or '?', user.get('email') or '?', user.get('role') or '?')]
        if (user.get('role') or '').lower() != 'administrator':
            messages.append('The API key belongs to a user who is not an administrator: Cliniko only '
                            'returns what that user may see, so records may be missing. Use an '
                            "administrator's API key for a complete migration.")
        return messages

    def _flatten_record(self, spec, record):
        row, rest = {}, {}
        for key, value in record.items():
            if key == 'links':
                continue  # the record's own URL; its id is already there
            if key in PHONE_KEYS:
                row.update(phone_columns(value))
            elif key == 'custom_fields':
                self._put_custom_fields(row, value)
            elif _is_link(value):
                url = value['links'].get('self')
                ident = link_id(url)
                row['%s_id' % key if ident else '%s_url' % key] = ident or url
            elif isinstance(value, dict) and 'sections' in value:
                row['%s_text' % key] = sections_text(value)
            else:
                rest[key] = _without_links(value)
        row.update(flatten(rest))
        if spec.name == 'patient_attachments':
            # Cliniko still scans and converts a fresh upload: no content yet.
            row['download_ref'] = row.get('id', '') if record.get('processing_completed') else ''
        if spec.name == 'practitioners':
            row['user_email'] = self._email_of_user(row.get('user_id'))
        if spec.name == 'attendees':
            row.update(self._booking_of(row.get('booking_id')))
        if spec.name in ('group_appointments', 'attendees'):
            row['appointment_type_name'] = self._appointment_type_name(row.get('appointment_type_id'))
        return row

    # -- downloads -----------------------------------------------------

    def download(self, ref):
        """Content of a patient attachment, by id (``download_ref``) or content URL.

        The content route redirects to a pre-signed storage URL: the
        Authorization header stays on Cliniko's host.
        """
        ref = str(ref or '').strip()
        if not ref:
            raise ConnectorError('Cliniko: no attachment to download (its processing may not be complete).')
        url = ref if ref.startswith(('http://', 'https://')) else self.http.url(
            '/patient_attachments/%s/content' % ref)
        return self.http.download(url)

    # -- helpers -------------------------------------------------------

    def _put_custom_fields(self, row, custom_fields):
        for section in (custom_fields or {}).get('sections') or ():
            for field in section.get('fields') or ():
                name = field.get('name') or field.get('token') or 'field'
                # The same question in two sections keeps both answers apart.
                if 'cf_%s' % normalize_header(name) in row:
                    name = '%s %s' % (section.get('name') or '', name)
                self._put_custom_field(row, name, _field_value(field))

    def _booking_of(self, booking_id):
        """An attendee only names its booking: when, where and with whom come from the group appointment."""
        group = self._index('group_appointments').get(booking_id)
        # /attendees also lists the attendee of every individual appointment: those rows
        # have no group appointment and are left to the appointments object.
        return dict({key: (group or {}).get(key, '') for key in BOOKING_COLUMNS},
                    group_appointment_id=booking_id if group else '')

    def _appointment_type_name(self, type_id):
        type_row = self._index('appointment_types').get(type_id) if type_id else None
        return (type_row or {}).get('name') or ''

    def _email_of_user(self, user_id):
        """Practitioners are matched to Odoo users by e-mail, which only their user has."""
        user = self._index('users').get(user_id) if user_id else None
        return (user or {}).get('email') or ''


def shard_of(api_key):
    """The shard named by the key's suffix (``...-au2``); keys without one live on au1."""
    _head, _sep, suffix = (api_key or '').rpartition('-')
    return suffix.lower() if SHARD_RE.match(suffix) else DEFAULT_SHARD


def base_url_for(api_key):
    return 'https://api.%s.cliniko.com/v1' % shard_of(api_key)


def basic_auth(api_key):
    return 'Basic ' + base64.b64encode(('%s:' % api_key).encode()).decode()


def phone_columns(numbers):
    numbers = [entry for entry in numbers or () if isinstance(entry, dict) and entry.get('number')]
    row = {'phone_numbers': '; '.join(str(entry['number']) for entry in numbers)}
    for kind in PHONE_TYPES:
        row['phone_%s' % kind] = next((str(entry['number']) for entry in numbers
                                       if (entry.get('phone_type') or '').lower() == kind), '')
    return row


def sections_text(content):
    """Treatment-note sections as plain text: the mapper stores notes without markup."""
    lines = []
    for section in content.get('sections') or ():
        if section.get('name'):
            lines.append(section['name'])
        for question in section.get('questions') or ():
            answer = question.get('answer')
            if answer in (None, ''):
                answer = ', '.join(str(option.get('value')) for option in question.get('answers') or ()
                                   if option.get('selected'))
            if answer not in (None, ''):
                lines.append('%s: %s' % (question.get('name') or '?', answer))
    return '\n'.join(lines)


def _field_value(field):
    value = field.get('value')
    if value in (None, '') and field.get('options'):
        value = ', '.join(str(option.get('name') or option.get('value'))
                          for option in field['options'] if option.get('selected'))
    return value


def _is_link(value):
    return isinstance(value, dict) and set(value) == {'links'} and isinstance(value['links'], dict)


def _without_links(value):
    if isinstance(value, dict):
        return {key: _without_links(item) for key, item in value.items() if key != 'links'}
    if isinstance(value, list):
        return [_without_links(item) for item in value]
    return value
