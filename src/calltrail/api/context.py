"""What the access log and the metrics learn about a request while it is being answered.

The guard middleware (:mod:`calltrail.api.guard`) opens a :class:`RequestInfo` per request in
a context variable; credential checks record the app they resolved with :func:`note_app`. The
worker threads run in a copy of the request's context, and the copy holds the *same*
:class:`RequestInfo` object, so what a worker records is seen by the middleware afterwards.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestInfo:
    """One request's id and, once credentials are checked, its app."""

    request_id: str
    app_id: str | None = None
    #: The process was refusing requests when this one was admitted (``Gate.refusing``).
    refusing: bool = False


_CURRENT: ContextVar[RequestInfo | None] = ContextVar("calltrail_request", default=None)


def open_request(request_id: str) -> RequestInfo:
    """Start recording for a request (called by the middleware, once per request)."""
    info = RequestInfo(request_id)
    _CURRENT.set(info)
    return info


def current_request() -> RequestInfo | None:
    """The request being answered, or None outside a request (the CLI, tests of stores)."""
    return _CURRENT.get()


def note_app(app_id: str) -> None:
    """Record the app a credential resolved to (for the access log)."""
    info = _CURRENT.get()
    if info is not None:
        info.app_id = app_id
