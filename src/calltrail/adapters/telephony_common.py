"""Helpers shared by the telephony adapters (:mod:`~calltrail.adapters.twilio`,
:mod:`~calltrail.adapters.freeswitch`).

Pure: no I/O. Both adapters emit Bird status events (docs/bird-voice-api.md), whose ``callId``
must be a UUID; providers that do not name calls with UUIDs get one derived with
:func:`stable_uuid`, so every server and every redelivery computes the same id.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any, NoReturn

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import MAX_MS, MIN_MS, format_rfc3339


def stable_uuid(namespace: uuid.UUID, provider_id: str) -> str:
    """The call id (UUIDv5, lower case) of a provider's own call identifier."""
    return str(uuid.uuid5(namespace, provider_id))


def fail(field: str, reason: str, message: str = "The webhook payload is malformed.") -> NoReturn:
    """Raise :class:`~calltrail.kernel.errors.InvalidRequest` naming one field of the payload."""
    raise InvalidRequest(message, details={field: [reason]})


def decode_text(body: bytes) -> str:
    """The body as UTF-8 text; a body that is not UTF-8 is malformed (``body``)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        fail("body", "must be UTF-8 text")


def is_digits(value: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also accepts ``"²"``)."""
    return value.isascii() and value.isdigit()


def check_instant(millis: int, field: str) -> int:
    """``millis`` if it lies within the instants Calltrail stores (1970 to 9999), else fail."""
    if not MIN_MS <= millis <= MAX_MS:
        fail(field, "is outside the supported range (1970 to 9999)")
    return millis


def instant(millis: int) -> str:
    """An event's ``at``: RFC 3339 UTC with milliseconds, as Bird shows instants."""
    return format_rfc3339(millis)


def check_clean(value: Any, path: str) -> None:
    """Fail on control characters or lone surrogates in any string of ``value``: a provider's
    payload may carry them (JSON allows ``\\ud800``), the event log must not."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_clean(item, f"{path}.{key}")
    elif isinstance(value, str) and any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        fail(path, "must not contain control characters or lone surrogates")


def status_event(event_id: str, call_id: str, status: str, at_ms: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A Bird status event. The channel is left out on purpose: the hook endpoint ingests the
    events into the integration's channel. ``fields`` are checked with :func:`check_clean`,
    each named by the record field it fills."""
    for key, value in fields.items():
        check_clean(value, key)
    return {"id": event_id, "callId": call_id, "status": status, "at": instant(at_ms), **fields}
