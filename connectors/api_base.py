# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every API connector shares: the object registry, paging, resumable
cursors and the flattening of nested JSON into the flat rows the loader and
the mapper already know from CSV files.

A connector declares its objects as :class:`ApiObject` and implements how
its vendor pages (``_page_params``, ``_parse_page``), filters on a date
(``_delta_params``), shapes a record (``_flatten_record``) and proves its
credentials (``_identity_messages``).  Everything else lives here, once.
"""
import base64
import binascii
import dataclasses
import datetime
import itertools
import json
import math
import re

from .api_exceptions import AuthError, RateLimitedError
from .exceptions import ConnectorError
from .tabular import normalize_header

LIST_SEPARATOR = '; '


@dataclasses.dataclass(frozen=True)
class ApiObject:
    """One object a connector can read.

    ``passes`` are ``(path, params)`` pairs read one after the other into the
    same object (active then inactive practitioners, Clio notes of matters
    then of contacts); ``params`` is a tuple of pairs so a key may repeat.
    With ``parent``, every pass is read once per row of that object, ``{id}``
    in the path standing for the parent's id, which the rows receive as
    ``parent_key``.
    """
    name: str
    label: str
    columns: tuple
    passes: tuple
    record_key: str = None
    parent: str = None
    parent_key: str = None
    delta: bool = True
    paged: bool = True
    column_labels: tuple = ()


@dataclasses.dataclass
class Page:
    records: list
    next_url: str = None
    total: int = None


def columns(text):
    """``'id name  email'`` -> ``('id', 'name', 'email')``: registries stay readable."""
    return tuple(text.split())


def iso_utc(moment):
    """A ``since`` datetime (naive = UTC) in the ISO form every vendor here accepts."""
    if not isinstance(moment, datetime.datetime):
        raise ConnectorError('the delta date must be a datetime, not %r' % (moment,))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def is_id_key(key):
    return key == 'id' or key.endswith(('_id', '_ids'))


def id_text(value):
    """Ids are text: Cliniko's are int64, and a float would silently round them."""
    if value is None or value == '':
        return ''
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(value):
    return '' if value is None else str(value)


def flatten(record, prefix=''):
    """Nested JSON -> one flat dict: ``{'client': {'id': 1}}`` -> ``{'client_id': '1'}``.

    A list of scalars becomes one ``'; '``-joined text; a list of objects one
    joined text per member key (``matters_id = '1; 2'``), positions aligned.
    """
    row = {}
    for key, value in record.items():
        name = '%s_%s' % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            row.update(flatten(value, name))
        elif isinstance(value, list):
            row.update(_flatten_list(name, value))
        else:
            row[name] = id_text(value) if is_id_key(name) else value
    return row


def _flatten_list(name, items):
    members = [flatten(item) for item in items if isinstance(item, dict)]
    if not members:
        return {name: LIST_SEPARATOR.join(_text(item) for item in items if item not in (None, ''))}
    keys = list(dict.fromkeys(key for member in members for key in member))
    row = {}
    for key in keys:
        values = [_text(member.get(key)) for member in members]
        row['%s_%s' % (name, key)] = LIST_SEPARATOR.join(values) if any(values) else ''
    return row


def label_of(key):
    """``'patient_id'`` -> ``'Patient ID'``."""
    words = ['ID' if word == 'id' else word for word in key.split('_') if word]
    if words and words[0] != 'ID':
        words[0] = words[0].capitalize()
    return ' '.join(words) or key


def encode_cursor(state):
    raw = json.dumps(state, separators=(',', ':'), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ConnectorError('the resume cursor %r is damaged; restart the object from its first row'
                             % (str(cursor)[:40],)) from None
    if not isinstance(state, dict) or 'o' not in state or 'n' not in state:
        raise ConnectorError('the resume cursor is not one of this connector')
    return state


class ApiSource:
    """The source of an API project: same interface as ``tabular.TabularSource``.

    Rows carry ``_line_nr`` (1-based across pages), ``_cursor`` (restarts at
    the page holding the row) and ``_index`` (the row's place in that page):
    ``iter_rows(name, since, cursor=row['_cursor'], offset=row['_index'] + 1)``
    resumes right after ``row`` without reading the pages before it.
    """

    vendor = 'API'
    OBJECTS = ()
    page_size = 100

    def __init__(self, http):
        self.http = http
        self._registry = {spec.name: spec for spec in self.OBJECTS}
        # Keys met in rows but unknown to the registry (custom fields):
        # listed by objects() once seen, so a sample read reveals them.
        self._discovered = {}
        self._labels = {}
        self._indexes = {}

    # -- interface -----------------------------------------------------

    def objects(self):
        return [(spec.name, spec.label, self._headers(spec)) for spec in self.OBJECTS]

    def iter_rows(self, name, since=None, offset=0, cursor=None):
        return self._iter_spec(self._spec(name), since, offset, cursor)

    # Parents whose child lists a structure sample reads: enough to see the
    # columns, while a per-parent list costs one request per parent.
    SAMPLE_PARENTS = 3

    def sample_rows(self, name, size):
        """Up to ``size`` rows to read the structure from; per-parent lists from a few parents only."""
        spec = self._spec(name)
        if not spec.parent:
            return list(itertools.islice(self.iter_rows(name), size))
        parents = itertools.islice(self._iter_spec(self._spec(spec.parent), None, 0, None), self.SAMPLE_PARENTS)
        rows = []
        for parent_row in parents:
            for path, params in spec.passes:
                url = self._first_url(spec, (path.format(id=parent_row['id']), params), None)
                for _state, records in self._follow(spec, url, {}):
                    for record in records:
                        record.setdefault(spec.parent_key, parent_row['id'])
                        row = self._complete(spec, self._flatten_record(spec, record))
                        self._remember_keys(spec, row)
                        rows.append(dict(row, _line_nr=len(rows) + 1))
                        if len(rows) >= size:
                            return rows
        return rows

    def audit_reads(self, name):
        """Whether the audit reads object ``name`` (a quota-bound vendor may spare per-parent lists)."""
        return True

    def count(self, name):
        spec = self._spec(name)
        if spec.parent:
            return None  # only known after one request per parent row
        total = 0
        for path_params in spec.passes:
            page = self._fetch_page(spec, self._first_url(spec, path_params, None, page_size=1))
            if page.total is None:
                return None
            total += page.total
        return total

    def download(self, ref):
        raise NotImplementedError

    def blueprints(self):
        """What the source configures but Odoo cannot load, as JSON for the inventory (by topic)."""
        return {}

    def test_connection(self):
        """Credentials, per-object counts, and what the administrator should know first."""
        result = {'ok': False, 'objects': {}, 'messages': []}
        try:
            result['messages'].extend(self._identity_messages())
        except ConnectorError as error:
            result['messages'].append(str(error))
            return result
        result['ok'] = True
        countable = {spec.name for spec in self._countable_objects()}
        for spec in self.OBJECTS:
            result['objects'][spec.name] = None
            if spec.name not in countable:
                continue
            try:
                result['objects'][spec.name] = self.count(spec.name)
            except RateLimitedError as error:
                result['messages'].append(str(error))
                break
            except AuthError as error:
                if error.status == 401:
                    result['ok'] = False
                result['messages'].append('%s: %s' % (spec.label, error))
            except ConnectorError as error:
                result['messages'].append('%s: %s' % (spec.label, error))
        result['messages'].extend(self._plan_messages(result['objects']))
        return result

    # -- vendor hooks --------------------------------------------------

    def _page_params(self, spec, page_size):
        """Query pairs asking for the first page of ``page_size`` records."""
        raise NotImplementedError

    def _delta_params(self, spec, since):
        """Query pairs restricting ``spec`` to records changed after ``since``."""
        raise NotImplementedError

    def _parse_page(self, spec, url, payload, response):
        """The :class:`Page` in one decoded answer."""
        raise NotImplementedError

    def _identity_messages(self):
        """One cheap authenticated call; messages saying who the credentials belong to."""
        raise NotImplementedError

    def _flatten_record(self, spec, record):
        return flatten(record)

    def _countable_objects(self):
        return [spec for spec in self.OBJECTS if not spec.parent]

    def _plan_messages(self, counts):
        return [message for message in (self._duration_message(counts),) if message]

    # -- registry ------------------------------------------------------

    def _spec(self, name):
        spec = self._registry.get(name)
        if spec is None:
            raise ConnectorError('%s has no object %r; known objects: %s'
                                 % (self.vendor, name, ', '.join(self._registry)))
        return spec

    def _headers(self, spec):
        labels = dict(spec.column_labels)
        headers = [(key, labels.get(key) or self._labels.get(key) or label_of(key)) for key in spec.columns]
        headers += [(key, label) for key, label in self._discovered.get(spec.name, {}).items()]
        return headers

    @staticmethod
    def _complete(spec, row):
        """Every declared column on every row, as a padded CSV row would have.

        A nested object that is ``null`` (a contact without company) comes
        out of flatten as ``company: None``: its columns are blank instead.
        """
        for key in [key for key, value in row.items()
                    if value is None and key not in spec.columns
                    and any(column.startswith(key + '_') for column in spec.columns)]:
            del row[key]
        for key in spec.columns:
            row.setdefault(key, '')
        return row

    def _remember_keys(self, spec, row):
        known = self._discovered.setdefault(spec.name, {})
        for key in row:
            if key.startswith('_') or key in spec.columns or key in known:
                continue
            known[key] = self._labels.get(key) or label_of(key)

    def _put_custom_field(self, row, name, value):
        """``cf_<normalised name>``; the original name becomes the column label."""
        key = 'cf_%s' % (normalize_header(name) or 'field')
        base, suffix = key, 2
        while key in row:
            key = '%s_%d' % (base, suffix)
            suffix += 1
        row[key] = value
        self._labels.setdefault(key, str(name))
        return key

    def _index(self, name):
        """``{id: row}`` of object ``name``, read once per connector: what other rows only point to."""
        if name not in self._indexes:
            self._indexes[name] = {row['id']: row for row in self.iter_rows(name)}
        return self._indexes[name]

    # -- reading -------------------------------------------------------

    def _first_url(self, spec, path_params, since, page_size=None):
        path, params = path_params
        pairs = list(params) + list(self._page_params(spec, page_size or self.page_size))
        if since is not None and spec.delta:
            pairs += list(self._delta_params(spec, since))
        return self.http.url(path, pairs)

    def _fetch_page(self, spec, url):
        payload, response = self.http.get_json(url)
        return self._parse_page(spec, url, payload, response)

    def _iter_spec(self, spec, since, offset, cursor):
        start = None
        if cursor:
            start = decode_cursor(cursor)
            if start['o'] != spec.name:
                raise ConnectorError('this resume cursor belongs to %r, not %r' % (start['o'], spec.name))
        line_nr = start['n'] if start else 0
        skip = max(int(offset or 0), 0)
        for state, records in self._pages(spec, since, start['s'] if start else None):
            token = encode_cursor({'o': spec.name, 'n': line_nr, 's': state})
            for index, record in enumerate(records):
                line_nr += 1
                if skip:
                    skip -= 1
                    continue
                row = self._complete(spec, self._flatten_record(spec, record))
                self._remember_keys(spec, row)
                row.update(_line_nr=line_nr, _cursor=token, _index=index)
                yield row

    def _pages(self, spec, since, start):
        """``(state, records)`` per page; ``state`` restarts at that very page."""
        if spec.parent:
            yield from self._child_pages(spec, since, start)
            return
        first = start['p'] if start else 0
        for index in range(first, len(spec.passes)):
            resume = start['u'] if start and index == first else None
            url = resume or self._first_url(spec, spec.passes[index], since)
            yield from self._follow(spec, url, {'p': index})

    def _follow(self, spec, url, state):
        while url:
            page = self._fetch_page(spec, url)
            yield dict(state, u=url), page.records
            url = page.next_url

    def _child_pages(self, spec, since, start):
        """Pages of a per-parent object (noCRM comments of each lead).

        The state holds the parent row's own cursor, so a resume re-reads
        one page of parents, not every parent before it.
        """
        parent = self._spec(spec.parent)
        resume = start
        parents = self._iter_spec(parent, since, start['pi'] if start else 0, start['pc'] if start else None)
        for parent_row in parents:
            parent_id = parent_row['id']
            first = resume['p'] if resume else 0
            for index in range(first, len(spec.passes)):
                path, params = spec.passes[index]
                url = (resume['u'] if resume and index == first
                       else self._first_url(spec, (path.format(id=parent_id), params), None))
                state = {'pc': parent_row['_cursor'], 'pi': parent_row['_index'], 'p': index}
                for page_state, records in self._follow(spec, url, state):
                    for record in records:
                        record.setdefault(spec.parent_key, parent_id)
                    yield page_state, records
            resume = None

    # -- planning ------------------------------------------------------

    def estimate_pages(self, counts):
        """Requests needed to list the objects of ``counts`` ({name: rows}) once."""
        pages = 0
        for name, rows in counts.items():
            spec = self._registry.get(name)
            if spec is None or spec.parent or rows is None:
                continue
            per_page = self.page_size if spec.paged else max(rows, 1)
            pages += max(math.ceil(rows / per_page), 1) if rows else len(spec.passes)
        return pages

    def _duration_message(self, counts):
        per_minute = self.http.per_minute
        known = {name: rows for name, rows in counts.items() if rows is not None}
        if not per_minute or not known:
            return None
        pages = self.estimate_pages(known)
        minutes = math.ceil(pages / per_minute)
        return ('Listing the %d records counted takes about %d requests: at most %d requests a minute '
                'are sent to %s, so about %d minute(s), downloads not included.'
                % (sum(known.values()), pages, per_minute, self.vendor, minutes))


def link_id(url):
    """The id at the end of a resource URL (``.../patients/82`` -> ``'82'``), else None."""
    match = re.search(r'/(\d+)/?(?:[?#].*)?$', str(url or ''))
    return match.group(1) if match else None
