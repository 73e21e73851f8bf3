# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A scripted HTTP server on the loopback interface, for the API connector tests.

Odoo's test mode blocks every outgoing request except to ``127.0.0.1`` and
``localhost``: the vendor API is served as ``127.0.0.1`` and a second server
named ``localhost`` plays the storage host of pre-signed downloads, which
is then *another host* for the HTTP client (credentials must not reach it).

Every request is recorded with its method, path, query, headers, body and
a timestamp from ``clock`` (a :class:`FakeClock` lets tests read the
client-side rate limiter's schedule from the log without really waiting).
"""
import dataclasses
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Reply:
    """One scripted answer: ``payload`` is sent as JSON, else ``body`` as is."""
    status: int = 200
    payload: object = None
    body: bytes = b''
    headers: dict = dataclasses.field(default_factory=dict)

    def encoded(self):
        if self.payload is not None:
            return json.dumps(self.payload).encode(), 'application/json; charset=utf-8'
        body = self.body.encode() if isinstance(self.body, str) else self.body
        return body, 'application/octet-stream'


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    time: float

    def param(self, name):
        values = self.query.get(name) or [None]
        return values[0]


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += max(seconds, 0)


class ApiServer:
    """``script()`` routes, point a connector at ``url``, then read ``log``.

    A route answers its replies in order and repeats the last one; among
    the routes of a path, the one constraining the most query parameters
    wins, then the one scripted last.  An unscripted request gets a 404
    (and is logged).
    """

    def __init__(self, hostname='127.0.0.1', clock=time.monotonic):
        self.hostname = hostname
        self.clock = clock
        self.log = []
        self._routes = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return 'http://%s:%d' % (self.hostname, self._httpd.server_address[1])

    def script(self, method, path, *replies, query=None):
        with self._lock:
            self._routes.append((method.upper(), path, dict(query or {}), list(replies)))

    def requests(self, method=None, path=None):
        with self._lock:
            return [entry for entry in self.log
                    if (method is None or entry.method == method) and (path is None or entry.path == path)]

    def clear_log(self):
        with self._lock:
            self.log.clear()

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _answer(self, handler, method):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get('Content-Length') or 0)
        entry = Recorded(method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                         {key.lower(): value for key, value in handler.headers.items()},
                         handler.rfile.read(length) if length else b'', self.clock())
        with self._lock:
            self.log.append(entry)
            reply = self._next_reply(entry)
        body, content_type = reply.encoded()
        handler.send_response(reply.status)
        headers = {'Content-Type': content_type, **reply.headers}
        for key, value in headers.items():
            handler.send_header(key, str(value))
        handler.send_header('Content-Length', str(len(body)))
        handler.end_headers()
        if method != 'HEAD':
            handler.wfile.write(body)

    def _next_reply(self, entry):
        candidates = [(len(route[2]), order, route[3]) for order, route in enumerate(self._routes)
                      if route[0] == entry.method and route[1] == entry.path
                      and all(value in entry.query.get(key, ()) for key, value in route[2].items())]
        if not candidates:
            return Reply(404, {'error': 'not scripted: %s %s' % (entry.method, entry.path)})
        # Most constrained first; on a tie the route scripted last overrides.
        replies = max(candidates, key=lambda candidate: candidate[:2])[2]
        return replies.pop(0) if len(replies) > 1 else replies[0]


class _Handler(BaseHTTPRequestHandler):

    def do_GET(self):
        self.server.app._answer(self, 'GET')

    def do_POST(self):
        self.server.app._answer(self, 'POST')

    def do_HEAD(self):
        self.server.app._answer(self, 'HEAD')

    def log_message(self, fmt, *args):
        # stderr by default: it would interleave with the test report.
        _logger.debug(fmt, *args)
