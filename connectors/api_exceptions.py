# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Errors of the API connectors.

``resumable`` tells the run whether waiting and re-running from the last
committed row can succeed: a rate limit or an exhausted daily quota clears
by itself, a rejected key does not.
"""
from .exceptions import ConnectorError


class HttpStatusError(ConnectorError):
    """The API answered with an error status; ``status`` is the HTTP code."""
    resumable = False

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class AuthError(HttpStatusError):
    """401/403: the credentials are wrong, expired or lack a permission."""


class RateLimitedError(HttpStatusError):
    """The API keeps answering 429; run again after ``retry_after`` seconds."""
    resumable = True

    def __init__(self, message, retry_after=None, status=429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class QuotaExceededError(ConnectorError):
    """Reading would spend more requests than the vendor's quota has left."""
    resumable = True

    def __init__(self, message, estimate=None, remaining=None):
        super().__init__(message)
        self.estimate = estimate
        self.remaining = remaining
