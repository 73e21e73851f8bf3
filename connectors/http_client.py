# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one HTTP client every API connector goes through.

It owns every wait and every retry, so that a vendor's limits are honoured
in a single place:

* urllib3 retries connection errors and transient 5xx answers of GETs
  (bounded, exponential backoff);
* a 429 is waited out as the vendor's headers say, a bounded number of
  times, then handed back to the run as :class:`RateLimitedError`
  (``max_rate_limit_retries=0`` for vendors that punish insisting);
* a client-side sliding window keeps under the vendor's requests/minute;
* an optional request budget stops before a daily quota is exceeded;
* redirects are followed by hand so that credentials only ever go to the
  API's own origin (requests drops ``Authorization`` on a cross-host hop,
  but not custom headers such as ``X-API-KEY``);
* secrets are masked in every log line and exception message.

``sleep``, ``clock`` and ``wall_clock`` are injected so tests never wait.
"""
import base64
import collections
import datetime
import email.utils
import logging
import re
import time
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .api_exceptions import AuthError, HttpStatusError, QuotaExceededError, RateLimitedError
from .exceptions import ConnectorError, FileTooLargeError

_logger = logging.getLogger(__name__)


class _RedactQueryStrings(logging.Filter):
    """urllib3 logs the URL of a retried request; for pre-signed storage URLs
    the query string *is* the credential."""

    def filter(self, record):
        if record.args:
            record.args = tuple(re.sub(r'\?\S*', '?<redacted>', arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


logging.getLogger('urllib3.connectionpool').addFilter(_RedactQueryStrings())

MASK = '***'
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
# Transient server-side failures; only idempotent methods are retried.
RETRY_STATUSES = (500, 502, 503, 504)
RETRY_METHODS = frozenset(('GET', 'HEAD'))
# A Retry-After on a 503 could ask for an hour: the run would look hung.
MAX_BACKOFF = 30.0
DOWNLOAD_CHUNK = 64 * 1024
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
ERROR_DETAIL_CHARS = 300


class Timeouts(tuple):
    """``(connect, read)`` in seconds, the form requests expects.

    Odoo's test harness compares every request's timeout with a number (to
    raise short ones to 10 s); a plain tuple would make that comparison
    raise, so the pair compares by its shorter member.
    """

    def __new__(cls, connect=10.0, read=60.0):
        return super().__new__(cls, (float(connect), float(read)))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return min(self) < other
        return super().__lt__(other)


def origin_of(url):
    """``(scheme, host, port)``: what decides whether a URL may see the credentials."""
    parts = urlsplit(url)
    port = parts.port or {'http': 80, 'https': 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or '').lower(), port


def set_query(url, **updates):
    """``url`` with the given query parameters replaced (other parameters kept in order)."""
    parts = urlsplit(url)
    pairs = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key not in updates]
    pairs += [(key, str(value)) for key, value in updates.items()]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def add_query(url, pairs):
    """Append ``pairs`` (a list, so a key such as ``q[]`` may repeat) to ``url``."""
    if not pairs:
        return url
    separator = '&' if urlsplit(url).query else '?'
    return url + separator + urlencode([(key, str(value)) for key, value in pairs])


def _epoch(value):
    """A reset moment sent as UNIX seconds, ISO 8601 or an HTTP date, as epoch seconds."""
    text = str(value or '').strip()
    if not text:
        return None
    if re.fullmatch(r'\d+(\.\d+)?', text):
        return float(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        moment = None
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    parsed = email.utils.parsedate_tz(text)
    return email.utils.mktime_tz(parsed) if parsed else None


def _delay(value, now):
    """A wait sent as seconds or as an HTTP date (RFC 9110 Retry-After), in seconds."""
    text = str(value or '').strip()
    if not text:
        return None
    if re.fullmatch(r'\d+(\.\d+)?', text):
        return float(text)
    moment = _epoch(text)
    return None if moment is None else max(moment - now, 0.0)


def retry_after_seconds(headers, now):
    """Seconds a 429 asks to wait, from whichever header the vendor sends; None if none.

    Clio sends ``Retry-After`` (seconds), Cliniko ``X-RateLimit-Reset``
    (UNIX time), noCRM ``API-RETRY-AFTER`` and ``API-LIMIT-RESET``.
    """
    for name in ('Retry-After', 'API-RETRY-AFTER'):
        seconds = _delay(headers.get(name), now)
        if seconds is not None:
            return seconds
    for name in ('X-RateLimit-Reset', 'API-LIMIT-RESET'):
        moment = _epoch(headers.get(name))
        if moment is not None:
            return max(moment - now, 0.0)
    return None


class SecretMasker:
    """Replaces every known secret, and the encodings it travels in, by ``***``."""

    def __init__(self, secrets=()):
        self._variants = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret):
        # Very short values would mask ordinary words of the messages.
        if not secret or len(str(secret)) < 4:
            return
        secret = str(secret)
        basic = base64.b64encode((secret + ':').encode()).decode()
        variants = {secret, quote(secret, safe=''), basic, basic.rstrip('=')}
        self._variants = sorted(set(self._variants) | variants, key=len, reverse=True)

    def __call__(self, text):
        text = str(text)
        for variant in self._variants:
            text = text.replace(variant, MASK)
        return text


class RateLimiter:
    """At most ``per_minute`` requests in any 60 s window (sliding), plus explicit holds."""

    PERIOD = 60.0

    def __init__(self, per_minute, clock, sleep):
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent = collections.deque(maxlen=per_minute or None)
        self._hold_until = None

    def hold(self, seconds):
        """Send nothing for ``seconds`` (the vendor said its window is spent)."""
        until = self._clock() + max(seconds, 0.0)
        self._hold_until = until if self._hold_until is None else max(self._hold_until, until)

    def acquire(self):
        now = self._clock()
        ready_at = now
        if self._hold_until is not None:
            ready_at = max(ready_at, self._hold_until)
        if self.per_minute and len(self._sent) >= self.per_minute:
            ready_at = max(ready_at, self._sent[0] + self.PERIOD)
        if ready_at > now:
            self._sleep(ready_at - now)
        # A clock that did not move while sleeping must not let two
        # requests share one slot.
        self._sent.append(max(self._clock(), ready_at))


def _retry_class(sleep, before_retry):
    """urllib3's Retry, waiting through ``sleep`` and announcing each retry.

    A class rather than an instance attribute because urllib3 copies a
    Retry with ``type(self)(**params)`` at every attempt.
    """

    class InjectedSleepRetry(Retry):

        def sleep(self, response=None):
            wait = None
            if response is not None and self.respect_retry_after_header:
                try:
                    wait = self.get_retry_after(response)
                except Exception:  # noqa: BLE001 - a malformed Retry-After falls back to backoff
                    wait = None
            if wait is None:
                wait = self.get_backoff_time()
            if wait > 0:
                sleep(min(wait, MAX_BACKOFF))
            before_retry()

    return InjectedSleepRetry


class HttpClient:
    """Session, retries, waits and error mapping for one API origin.

    ``auth_headers`` are only attached to requests for ``base_url``'s origin;
    ``secrets`` are masked from every message.  ``on_unauthorized`` is called
    once on a 401 and returns True when it renewed the credentials (an OAuth
    refresh): the request is then sent again, once.
    """

    def __init__(self, base_url, *, vendor, auth_headers=None, headers=None, secrets=(),
                 session=None, timeout=None, sleep=time.sleep, clock=time.monotonic,
                 wall_clock=time.time, per_minute=None, retries=3, backoff_factor=1.0,
                 max_rate_limit_retries=3, max_rate_limit_wait=300.0, default_rate_limit_wait=60.0,
                 rate_limit_hint='', request_budget=None, on_unauthorized=None,
                 auth_hint='', forbidden_hint=''):
        self.base_url = base_url.rstrip('/')
        self.vendor = vendor
        self._origin = origin_of(self.base_url)
        self._auth_headers = dict(auth_headers or {})
        self._headers = dict(headers or {})
        self.mask = SecretMasker(secrets)
        self._timeout = timeout if timeout is not None else Timeouts()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._limiter = RateLimiter(per_minute, clock, sleep)
        self._max_rate_limit_retries = max_rate_limit_retries
        self._max_rate_limit_wait = max_rate_limit_wait
        self._default_rate_limit_wait = default_rate_limit_wait
        self._rate_limit_hint = rate_limit_hint
        self.request_budget = request_budget
        self._on_unauthorized = on_unauthorized
        self._auth_hint = auth_hint
        self._forbidden_hint = forbidden_hint
        self.requests_sent = 0
        self.on_request = None
        self._session = session or requests.Session()
        self._mount_adapters(retries, backoff_factor, sleep)

    # -- configuration -------------------------------------------------

    def _mount_adapters(self, retries, backoff_factor, sleep):
        def retry(before_retry):
            return _retry_class(sleep, before_retry)(
                total=retries, connect=retries, read=retries, status=retries, other=0,
                allowed_methods=RETRY_METHODS, status_forcelist=RETRY_STATUSES,
                backoff_factor=backoff_factor, backoff_max=MAX_BACKOFF, raise_on_status=False)

        # Other hosts (pre-signed download URLs) get retries too, but they
        # count neither against the vendor's rate limit nor its quota.
        foreign = HTTPAdapter(max_retries=retry(lambda: None))
        self._session.mount('https://', foreign)
        self._session.mount('http://', foreign)
        scheme, host, port = self._origin
        own = HTTPAdapter(max_retries=retry(self._before_api_request))
        self._session.mount('%s://%s:%s/' % (scheme, host, port), own)
        self._session.mount('%s://%s/' % (scheme, host), own)

    def set_auth_headers(self, headers):
        self._auth_headers = dict(headers)

    def add_secret(self, secret):
        self.mask.add(secret)

    @property
    def per_minute(self):
        return self._limiter.per_minute

    @property
    def requests_remaining(self):
        if self.request_budget is None:
            return None
        return max(self.request_budget - self.requests_sent, 0)

    # -- URLs ----------------------------------------------------------

    def url(self, path, params=None):
        """Absolute URL for an API path (an absolute URL is kept), with ``params`` pairs appended."""
        if re.match(r'^https?://', path or ''):
            url = path
        else:
            url = '%s/%s' % (self.base_url, (path or '').lstrip('/'))
        return add_query(url, list(params or ()))

    def is_trusted(self, url):
        return origin_of(url) == self._origin

    def display_url(self, url):
        """The URL as it may appear in a message: no user info, no foreign query, no secret."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit('@', 1)[-1]
        # The query of a pre-signed URL is itself a credential.
        query = parts.query if self.is_trusted(url) else ''
        return self.mask(urlunsplit(parts._replace(netloc=netloc, query=query, fragment='')))

    # -- requests ------------------------------------------------------

    def get_json(self, url):
        """``(payload, response)`` of a GET; a body that is not JSON is an error."""
        response = self.request('GET', url)
        try:
            payload = response.json()
        except ValueError:
            raise ConnectorError(self.mask(
                '%s returned a response that is not valid JSON (HTTP %s) for GET %s; the service '
                'may be down or a proxy answered in its place. Try again later.'
                % (self.vendor, response.status_code, self.display_url(url)))) from None
        return payload, response

    def post_form(self, url, data, authenticate=False):
        response = self.request('POST', url, data=data, authenticate=authenticate)
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(self.mask(
                '%s returned a response that is not valid JSON (HTTP %s) for POST %s'
                % (self.vendor, response.status_code, self.display_url(url)))) from None

    def download(self, url, max_bytes=MAX_DOWNLOAD_BYTES):
        """The bytes at ``url``, redirects followed without leaking credentials."""
        response = self.request('GET', url, stream=True)
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLargeError('%s: the file at %s is larger than %d MiB'
                                            % (self.vendor, self.display_url(url), max_bytes // 2**20))
                chunks.append(chunk)
        except requests.RequestException as error:
            raise ConnectorError(self.mask('%s: downloading %s failed: %s'
                                           % (self.vendor, self.display_url(url), error))) from None
        finally:
            response.close()
        return b''.join(chunks)

    def request(self, method, url, *, data=None, authenticate=True, stream=False):
        """Send, waiting out 429s and renewing the credentials once on a 401."""
        rate_limited = 0
        renewed = False
        while True:
            response = self._send(method, url, data=data, authenticate=authenticate, stream=stream)
            if response.status_code == 429:
                response.close()
                rate_limited += 1
                self._wait_after_429(response, rate_limited, method, url)
                continue
            if (response.status_code == 401 and authenticate and not renewed
                    and self._on_unauthorized is not None):
                renewed = True
                response.close()
                if self._on_unauthorized():
                    continue
            self._check_status(method, url, response)
            return response

    def _send(self, method, url, *, data, authenticate, stream):
        """One logical request; redirects followed here, by hand."""
        for _hop in range(MAX_REDIRECTS + 1):
            trusted = self.is_trusted(url)
            if trusted:
                self._before_api_request()
            headers = dict(self._headers)
            if authenticate and trusted:
                headers.update(self._auth_headers)
            _logger.debug('%s %s', method, self.display_url(url))
            try:
                response = self._session.request(
                    method, url, data=data, headers=headers, timeout=self._timeout,
                    allow_redirects=False, stream=stream)
            except requests.RequestException as error:
                # ``from None``: the original exception text is not masked.
                raise ConnectorError(self.mask('%s could not be reached (%s %s): %s'
                                               % (self.vendor, method, self.display_url(url), error))) from None
            if trusted:
                self._observe_window(response)
            location = response.headers.get('Location')
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            url = urljoin(url, location)
            if response.status_code == 303 or (response.status_code in (301, 302) and method == 'POST'):
                method, data = 'GET', None
        raise ConnectorError('%s redirected more than %d times from %s'
                             % (self.vendor, MAX_REDIRECTS, self.display_url(url)))

    def _before_api_request(self):
        """Every request to the API origin, retries included, passes here."""
        if self.request_budget is not None and self.requests_sent >= self.request_budget:
            raise QuotaExceededError(
                '%s: the request budget of %d for this run is used up; the run resumes from its '
                'last row once the quota is renewed.' % (self.vendor, self.request_budget),
                estimate=None, remaining=0)
        self._limiter.acquire()
        self.requests_sent += 1
        if self.on_request is not None:
            # The project's request ledger: one count per request, whichever action sent it.
            self.on_request()

    def _observe_window(self, response):
        # Clio announces an exhausted window on every answer: waiting for
        # its reset is cheaper than collecting a 429.
        if response.status_code != 429 and response.headers.get('X-RateLimit-Remaining') == '0':
            reset = _epoch(response.headers.get('X-RateLimit-Reset'))
            if reset is not None:
                self._limiter.hold(reset - self._wall_clock())

    def _wait_after_429(self, response, attempt, method, url):
        wait = retry_after_seconds(response.headers, self._wall_clock())
        if attempt > self._max_rate_limit_retries or (wait or 0) > self._max_rate_limit_wait:
            advice = ' %s' % self._rate_limit_hint if self._rate_limit_hint else ''
            raise RateLimitedError(self.mask(
                '%s is rate limiting this account (HTTP 429 on %s %s).%s The run can resume from its '
                'last row%s.' % (self.vendor, method, self.display_url(url), advice,
                                 ' in %d s' % round(wait) if wait is not None else ' later')),
                retry_after=wait)
        # A reset already in the past (clock skew) still deserves a pause.
        wait = max(self._default_rate_limit_wait if wait is None else wait, 1.0)
        _logger.info('%s rate limit reached; waiting %.0f s before retrying %s',
                     self.vendor, wait, self.display_url(url))
        self._sleep(wait)

    def _check_status(self, method, url, response):
        status = response.status_code
        if 200 <= status < 300:
            return
        where = '%s %s' % (method, self.display_url(url))
        detail = self._error_detail(response)
        if status == 401:
            raise AuthError(self.mask('%s rejected the credentials (HTTP 401 on %s)%s. %s'
                                      % (self.vendor, where, detail, self._auth_hint)).strip(), status)
        if status == 403:
            raise AuthError(self.mask('%s refused access (HTTP 403 on %s)%s. %s'
                                      % (self.vendor, where, detail, self._forbidden_hint)).strip(), status)
        if status == 402:
            raise HttpStatusError(self.mask(
                '%s answered "payment required" (HTTP 402 on %s)%s: the account is suspended or its '
                'plan does not include API access.' % (self.vendor, where, detail)), status)
        raise HttpStatusError(self.mask('%s answered HTTP %s on %s%s'
                                        % (self.vendor, status, where, detail)), status)

    @staticmethod
    def _error_detail(response):
        """The vendor's own explanation of an error, shortened: ``': ...'`` or ``''``."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        parts = []
        if isinstance(payload, dict):
            error = payload.get('error')
            if isinstance(error, dict):
                payload = dict(payload, **error)
            for key in ('message', 'error_description', 'error', 'type'):
                value = payload.get(key)
                if isinstance(value, (str, int)) and str(value) not in parts:
                    parts.append(str(value))
        else:
            text = re.sub(r'\s+', ' ', response.text or '').strip()
            if text:
                parts.append(text)
        detail = ' - '.join(parts)[:ERROR_DETAIL_CHARS]
        return ': %s' % detail if detail else ''
