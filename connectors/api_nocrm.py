# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""noCRM.io API v2 (https://www.nocrm.io/api).

* ``X-API-KEY`` header (account level, admin rights), base URL
  ``https://<subdomain>.nocrm.io/api/v2``.
* Lists are bare JSON arrays; ``X-TOTAL-COUNT`` is the total before paging.
  Only ``/leads`` (and ``/spreadsheets``) page, by ``limit``/``offset``.
* Delta exists for leads only (``updated_after``); everything else is read
  in full.
* 2,000 requests a day per account, shared with the account's other
  integrations.  Past it every request gets a 429 with ``API-RETRY-AFTER``
  and ``API-LIMIT-RESET``, and insisting "might deactivate the API key":
  a 429 is never retried here, and a read that would not fit in the
  remaining budget is refused before it starts.
* Comments are one unpaged call per lead; attachments two steps: the
  attachment gives a signed URL (valid about 180 s) fetched without the
  key, and that download does not count against the quota.
"""
import json
import logging
import math
import re
import time
from urllib.parse import parse_qsl, urlsplit

from .api_base import ApiObject, ApiSource, Page, columns, decode_cursor, flatten, iso_utc
from .api_exceptions import QuotaExceededError
from .exceptions import ConnectorError
from .http_client import HttpClient, set_query

_logger = logging.getLogger(__name__)

# Starter accounts keep at most this many leads and refuse more without an error.
STARTER_LEAD_CAP = 500
DAILY_QUOTA = 2000
PAGE_SIZE = 100
SUBDOMAIN_RE = re.compile(r'^[a-z0-9][a-z0-9-]*$', re.IGNORECASE)
# noCRM keeps a lead's predefined fields as "Label: value" lines of its description.
DESCRIPTION_FIELD_RE = re.compile(r'^\s*([^:\n]{1,60}?)\s*:\s*(.*?)\s*$')
# Oldest first: new leads land on the last page, earlier offsets stay put.
STABLE_ORDER = (('order', 'id'), ('direction', 'asc'))

LEAD_COLUMNS = columns(
    'id title description status pipeline step step_id amount probability currency starred tags '
    'user_id created_by_id team_id client_folder_id created_from attachment_count next_action_at '
    'remind_date closed_at created_at updated_at')


def _object(name, label, path, cols, params=(), **options):
    return ApiObject(name=name, label=label, columns=cols, passes=((path, tuple(params)),), **options)


class NocrmSource(ApiSource):
    vendor = 'noCRM.io'
    page_size = PAGE_SIZE
    OBJECTS = (
        _object('users', 'Users', '/users', columns(
            'id email firstname lastname is_admin is_disabled has_activated locale time_zone '
            'teams_id teams_name'), params=(('status', 'all'),), paged=False, delta=False),
        _object('teams', 'Teams', '/teams', columns('id name users_id users_email'),
                paged=False, delta=False),
        _object('pipelines', 'Pipelines', '/pipelines', columns('id name'), paged=False, delta=False),
        _object('steps', 'Pipeline steps', '/steps', columns(
            'id name position pipeline_id pipeline_name'), paged=False, delta=False),
        _object('categories', 'Tag categories', '/categories', columns(
            'id name is_mandatory tags_id tags_name'), params=(('include_tags', 'true'),),
            paged=False, delta=False),
        _object('predefined_tags', 'Predefined tags', '/predefined_tags', columns(
            'id name category_id'), paged=False, delta=False),
        _object('fields', 'Predefined fields', '/fields', columns(
            'id name type is_key parent_type position'), paged=False, delta=False),
        _object('clients', 'Client folders', '/clients', columns(
            'id name description user_id created_at updated_at'), paged=False, delta=False),
        _object('spreadsheets', 'Prospecting lists', '/spreadsheets', columns(
            'id title total_row_count is_archived user_id user_email tags created_at updated_at'),
            delta=False),
        # A list's rows come embedded in GET /spreadsheets/{id}, each row's content positional
        # to the list's column_names: one request per list, whatever its size.
        _object('prospects', 'Prospecting list rows', '/spreadsheets/{id}', columns(
            'id spreadsheet_id is_active is_archived row_label'), parent='spreadsheets', parent_key='spreadsheet_id',
            paged=False, delta=False),
        _object('leads', 'Leads', '/leads', LEAD_COLUMNS, params=STABLE_ORDER),
        _object('lead_comments', 'Lead comments', '/leads/{id}/comments', columns(
            'id lead_id content is_email email_subject user_id user_email user_firstname user_lastname '
            'attachments_name created_at'), parent='leads', parent_key='lead_id', paged=False, delta=False),
        # Every change of a lead (step and status transitions, assignments, amounts) with who and when.
        # The action types are not documented: the history is kept type by type as the API names it.
        _object('lead_history', 'Lead action history (step and status changes)', '/leads/{id}/action_histories',
                columns('id lead_id action_type action summary user_id user_email created_at'),
                parent='leads', parent_key='lead_id', paged=False, delta=False),
        _object('lead_attachments', 'Lead attachments', '/leads/{id}/attachments', columns(
            'id lead_id name content_type kind url download_ref'),
            parent='leads', parent_key='lead_id', paged=False, delta=False),
    )

    def __init__(self, api_key, *, subdomain=None, base_url=None, daily_budget_remaining=None, spread=False,
                 session=None, sleep=time.sleep, clock=time.monotonic, max_requests_per_minute=None,
                 timeout=None):
        api_key = (api_key or '').strip()
        if not api_key:
            raise ConnectorError('Enter a noCRM.io API key (Admin panel > Integrations > API keys).')
        http = HttpClient(
            base_url or base_url_for(subdomain), vendor='noCRM.io',
            auth_headers={'X-API-KEY': api_key}, headers={'Accept': 'application/json'},
            secrets=(api_key,), session=session, timeout=timeout, sleep=sleep, clock=clock,
            per_minute=max_requests_per_minute, max_rate_limit_retries=0,
            rate_limit_hint='noCRM.io allows 2,000 requests a day per account and may deactivate an '
                            'API key that keeps calling after a 429: run again after the daily reset.',
            request_budget=daily_budget_remaining,
            auth_hint='Check the API key (noCRM.io Admin panel > Integrations > API keys); noCRM shows '
                      'a key only once, when it is created.',
            forbidden_hint='An account API key has admin rights; a user token only its user\'s rights.')
        super().__init__(http)
        # Spread over several days: a read longer than today's budget starts anyway and stops
        # when the budget is spent (QuotaExceededError, remaining 0), to go on the next day.
        self.spread = spread
        self._lead_counts = {}

    # -- quota ---------------------------------------------------------

    @property
    def requests_remaining(self):
        """Requests left in the budget given at construction (None: not tracked)."""
        return self.http.requests_remaining

    def estimate_requests(self, counts, objects=None):
        """API requests needed to read ``objects`` (default: all) given ``counts``.

        ``counts`` maps object names to rows: paged objects cost one request
        per page, unpaged ones one request, per-lead objects one request per
        lead, and each attachment file one more (its signed URL; the file
        itself is free).
        """
        total = 0
        for name in objects or [spec.name for spec in self.OBJECTS]:
            spec = self._spec(name)
            if spec.parent:
                total += counts.get(spec.parent) or 0
                if name == 'lead_attachments':
                    total += counts.get(name) or 0
            elif spec.paged:
                total += max(math.ceil((counts.get(name) or 0) / self.page_size), 1)
            else:
                total += 1
        return total

    def plan_days(self, estimate):
        """Calendar days a read of ``estimate`` requests takes: today's remainder first, then whole days."""
        today = DAILY_QUOTA if self.requests_remaining is None else self.requests_remaining
        if estimate <= today:
            return 1
        return 1 + math.ceil((estimate - today) / DAILY_QUOTA)

    def check_budget(self, counts, objects=None):
        """The estimate for ``objects``; QuotaExceededError when it exceeds what remains."""
        estimate = self.estimate_requests(counts, objects)
        remaining = self.requests_remaining
        if remaining is not None and estimate > remaining and not self.spread:
            raise QuotaExceededError(
                'Reading %s from noCRM.io needs about %d API requests but only %d of the account\'s '
                '%d daily requests remain for this migration. Run it after the daily reset, or '
                'run a delta (leads changed since the last run) instead.'
                % (', '.join(objects or ['everything']), estimate, remaining, DAILY_QUOTA),
                estimate=estimate, remaining=remaining)
        return estimate

    def audit_reads(self, name):
        """Not the per-lead lists: one request per lead each (3 x the leads of the daily quota), for
        rows that only point to their own lead; the run reports their problems row by row."""
        return self._spec(name).parent != 'leads'

    def iter_rows(self, name, since=None, offset=0, cursor=None):
        """Refuses, before the first request of the read, a read the budget cannot finish."""
        spec = self._spec(name)
        if self.requests_remaining is not None and not self.spread:
            self.check_budget(self._counts_left(spec, since, offset, cursor), [name])
        return super().iter_rows(name, since=since, offset=offset, cursor=cursor)

    def _counts_left(self, spec, since, offset, cursor):
        lead_spec = self._spec(spec.parent) if spec.parent else spec
        if lead_spec.name != 'leads':
            return {}  # one request, whatever the count
        done = self._rows_done(spec, offset, cursor)
        left = max((self._lead_count(since) or 0) - done, 0)
        return {'leads': left}

    @staticmethod
    def _rows_done(spec, offset, cursor):
        """Leads already read before this (resumed) read starts."""
        if not cursor:
            return 0 if spec.parent else int(offset or 0)
        state = decode_cursor(cursor)
        if spec.parent:
            parent_state = decode_cursor(state['s']['pc'])
            return parent_state['n'] + state['s']['pi']
        return state['n'] + int(offset or 0)

    def _lead_count(self, since):
        key = iso_utc(since) if since else None
        if key not in self._lead_counts:
            spec = self._spec('leads')
            page = self._fetch_page(spec, self._first_url(spec, spec.passes[0], since, page_size=1))
            self._lead_counts[key] = page.total
        return self._lead_counts[key]

    # -- vendor hooks --------------------------------------------------

    def _page_params(self, spec, page_size):
        return [('limit', page_size), ('offset', 0)] if spec.paged else []

    def _delta_params(self, spec, since):
        return [('updated_after', iso_utc(since))]

    def _parse_page(self, spec, url, payload, response):
        if spec.name == 'prospects' and isinstance(payload, dict):
            names = payload.get('column_names') or []
            rows = [dict(row, _column_names=names) for row in payload.get('spreadsheet_rows') or ()]
            return Page(rows, None, len(rows))
        if not isinstance(payload, list):
            raise ConnectorError('noCRM.io answered %s with %s instead of a list; check the subdomain.'
                                 % (self.http.display_url(url), type(payload).__name__))
        header = response.headers.get('X-TOTAL-COUNT')
        total = int(header) if header and header.strip().isdigit() else None
        if not spec.paged:
            if total is not None and total > len(payload):
                # Not documented as paged: say so rather than lose the rest silently.
                _logger.warning('noCRM.io %s: %d of %d records in one answer; the rest is not read',
                                self.http.display_url(url), len(payload), total)
            return Page(payload, None, len(payload) if total is None else total)
        query = dict(parse_qsl(urlsplit(url).query))
        offset, limit = int(query.get('offset') or 0), int(query.get('limit') or self.page_size)
        end = offset + len(payload)
        # A short page is the last one, whatever the header says.
        more = len(payload) >= limit and (total is None or end < total)
        return Page(payload, set_query(url, offset=end) if more else None, total)

    def _identity_messages(self):
        payload, _response = self.http.get_json(self.http.url('/ping'))
        message = payload.get('message') if isinstance(payload, dict) else None
        return ['noCRM.io: %s' % (message or 'the API key is accepted.')]

    def _countable_objects(self):
        # Unpaged lists would be downloaded whole just to be counted.
        return [spec for spec in self.OBJECTS if spec.paged and not spec.parent]

    def _plan_messages(self, counts):
        estimate = self.estimate_requests({name: rows for name, rows in counts.items() if rows is not None})
        remaining = self.requests_remaining
        budget = ('%d remain in the budget given for this migration' % remaining if remaining is not None
                  else 'give the remaining daily budget to have it enforced')
        messages = ['noCRM.io allows %d requests a day per account, shared with its other integrations. '
                    'Reading everything needs about %d requests (one per lead each for comments, action '
                    'history and attachments, one per prospecting list, plus one per attachment file); %s.'
                    % (DAILY_QUOTA, estimate, budget)]
        days = self.plan_days(estimate)
        messages.append('At %d requests a day%s, a full run of this account takes %d day(s); it resumes by '
                        'itself after each daily reset when "Spread over several days" is set.'
                        % (DAILY_QUOTA, ' (%d left today)' % remaining if remaining is not None else '', days))
        if counts.get('leads') == STARTER_LEAD_CAP:
            messages.append('The account holds exactly %d leads, the Starter plan\'s cap: noCRM.io silently '
                            'refused leads beyond it, so the source itself may be incomplete. Check the plan '
                            'and any lead imported elsewhere before migrating.' % STARTER_LEAD_CAP)
        return messages

    def _flatten_record(self, spec, record):
        if spec.name == 'leads':
            return self._lead_row(record)
        if spec.name == 'lead_comments':
            return _comment_row(record)
        if spec.name == 'lead_attachments':
            return _attachment_row(record)
        if spec.name == 'lead_history':
            return _history_row(record)
        if spec.name == 'prospects':
            return self._prospect_row(record)
        return flatten(record)

    def _lead_row(self, record):
        record = dict(record)
        extended = record.pop('extended_info', None) or {}
        record.pop('html_description', None)  # same text as description, with markup
        row = flatten(record)
        fields = extended.get('fields_by_name') if isinstance(extended, dict) else None
        if isinstance(fields, dict):
            for name, value in fields.items():
                self._put_custom_field(row, name, value)
        else:
            for name, value in description_fields(record.get('description')):
                self._put_custom_field(row, name, value)
        return row

    def _prospect_row(self, record):
        record = dict(record)
        names = record.pop('_column_names', None) or []
        content = record.pop('content', None) or []
        if isinstance(content, str):
            # Rows are written as a JSON string by some clients; read them either way.
            try:
                content = json.loads(content)
            except ValueError:
                content = [content]
        row = flatten(record)
        # Lists have their own columns: the first filled cell names the row whatever they are.
        row['row_label'] = next((str(value).strip() for value in content if str(value or '').strip()), '')
        for index, value in enumerate(content):
            # A cell beyond the named columns keeps its position as a name.
            self._put_custom_field(row, names[index] if index < len(names) else 'column %d' % (index + 1), value)
        return row

    # -- downloads -----------------------------------------------------

    def download(self, ref):
        """``ref`` is ``'<lead id>/<attachment id>'`` (a row's ``download_ref``).

        The signed URL is fetched and used at once: it expires after about
        180 s, and fetching another costs one more request of the quota.
        """
        lead_id, _sep, attachment_id = str(ref or '').strip().partition('/')
        if not (lead_id and attachment_id):
            raise ConnectorError('noCRM.io: %r is not an attachment reference (lead id/attachment id); '
                                 'only attachments of kind "attachment" can be downloaded.' % (ref,))
        response = self.http.request('GET', self.http.url(
            '/leads/%s/attachments/%s' % (lead_id, attachment_id)))
        if not self.http.is_trusted(response.url):
            return response.content  # the API redirected straight to the file
        try:
            signed_url = (response.json() or {}).get('url')
        except (ValueError, AttributeError):
            signed_url = None
        if not signed_url:
            raise ConnectorError('noCRM.io gave no download URL for attachment %s of lead %s.'
                                 % (attachment_id, lead_id))
        return self.http.download(signed_url)


def base_url_for(subdomain):
    name = (subdomain or '').strip().lower()
    name = re.sub(r'^https?://', '', name).split('.nocrm.io')[0].strip('/')
    if not SUBDOMAIN_RE.match(name):
        raise ConnectorError('Enter the noCRM.io subdomain: "acme" for https://acme.nocrm.io (got %r).'
                             % (subdomain,))
    return 'https://%s.nocrm.io/api/v2' % name


def description_fields(description):
    """``'Firstname: Ada\\nEmail: ada@x'`` -> ``[('Firstname', 'Ada'), ('Email', 'ada@x')]``."""
    pairs = []
    for line in str(description or '').splitlines():
        match = DESCRIPTION_FIELD_RE.match(line)
        if match and match.group(2) and not match.group(1).lower().startswith(('http', 'https')):
            pairs.append((match.group(1), match.group(2)))
    return pairs


def _comment_row(record):
    record = dict(record)
    action = record.pop('action_item', None) or {}
    record.pop('activity', None)
    email = action.get('email') if isinstance(action, dict) else None
    row = flatten(record)
    # An e-mail comment has no content: its text is the e-mail's.
    if isinstance(email, dict):
        row['is_email'] = True
        row['email_subject'] = email.get('subject') or ''
        if not row.get('content'):
            row['content'] = email.get('content') or ''
    else:
        row['is_email'] = False
        row['email_subject'] = ''
    return row


def _attachment_row(record):
    row = flatten(record)
    downloadable = record.get('kind') == 'attachment'
    # A stored file's listed URL is signed and short-lived: useless once saved.
    if downloadable:
        row['url'] = ''
    row['download_ref'] = '%s/%s' % (row['lead_id'], row['id']) if downloadable else ''
    return row



def _history_row(record):
    record = dict(record)
    item = record.pop('action_item', None)
    row = flatten(record)
    action_type = str(record.get('action_type') or '')
    row['action'] = action_type.replace('_', ' ').replace('.', ' ').strip().capitalize()
    row['summary'] = describe(item)
    return row


def describe(value):
    """A history item of any shape as one line: ``step: Proposal; previous step: Contacted``."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if key == 'id' or key.endswith('_id') or item in (None, '', [], {}):
                continue
            text = describe(item)
            if text:
                parts.append('%s: %s' % (key.replace('_', ' '), text))
        # A record reference ({"id": 2, "name": "Proposal"}) reads as its name.
        name = value.get('name') or value.get('title') or value.get('email')
        if name and all(k in ('id', 'name', 'title', 'email', 'firstname', 'lastname') for k in value):
            return str(name)
        return '; '.join(parts)
    if isinstance(value, list):
        return ', '.join(text for text in (describe(item) for item in value) if text)
    return '' if value is None else str(value)
