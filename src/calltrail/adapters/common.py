"""What the inbound adapters share: reading a provider's JSON payload field by field, and ids.

Pure: no I/O. A provider's payload is not Calltrail's to fix, so reading stops at the first
problem: :class:`Payload` raises :class:`~calltrail.kernel.errors.InvalidRequest` whose
``details`` name the field by its path in the payload (``room.sid``, ``data.occupant.uid``).
Every string copied into a native event goes through a check here, so control characters and
lone surrogates (which ``json.loads`` accepts) never reach the event log.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import MAX_MS, MIN_MS
from calltrail.sessions.vocabulary import ENTITY_ID_RULE, SESSION_ID_RULE, is_entity_id, is_session_id

MAX_EVENT_ID = 255
# Long ids keep this many leading characters, so the sort order that the fold's tie-breaks rely
# on survives, and end with a digest of the whole id, so they stay unique.
_DIGEST_CHARS = 32
_NUMBER = re.compile(r"^-?\d{1,20}(\.\d{1,9})?$")


def decode_body(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; a truncated or non-JSON body names ``body``."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("The webhook body is not valid JSON.", {"body": [f"is not valid JSON ({exc})"]}) from None
    if not isinstance(value, dict):
        raise InvalidRequest("The webhook body is not a JSON object.", {"body": ["must be a JSON object"]})
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def event_id(*parts: str) -> str:
    """A native event id made of ``parts`` joined by ``:``, at most 255 characters."""
    joined = ":".join(parts)
    if len(joined) <= MAX_EVENT_ID:
        return joined
    digest = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    return f"{joined[: MAX_EVENT_ID - _DIGEST_CHARS - 1]}~{digest}"


def at_seconds(millis: int) -> int | float:
    """An instant in epoch milliseconds as an event's ``at``: whole seconds when it is whole."""
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


def is_clean(value: str) -> bool:
    """True unless ``value`` holds control characters or lone surrogates."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


class Payload:
    """A JSON object from a provider, and where it sits in the body (for error details)."""

    def __init__(self, data: Mapping[str, Any], path: str = ""):
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        """The path of ``key`` in the body."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, reason: str) -> NoReturn:
        """Raise :class:`InvalidRequest` naming ``key``."""
        where = self.where(key)
        raise InvalidRequest(f"The webhook payload is invalid at {where}.", {where: [reason]})

    def has(self, key: str) -> bool:
        """True when ``key`` is present and not null."""
        return self.data.get(key) is not None

    def child(self, key: str) -> Payload:
        """The object under ``key`` (required)."""
        found = self.optional_child(key)
        if found is None:
            self.fail(key, "is required")
        return found

    def optional_child(self, key: str) -> Payload | None:
        """The object under ``key``, or None when it is absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, "must be a JSON object")
        return Payload(value, self.where(key))

    def children(self, key: str) -> list[Payload]:
        """The objects listed under ``key`` (an absent list is empty)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(key, "must be a list of JSON objects")
        return [Payload(item, f"{self.where(key)}[{index}]") for index, item in enumerate(value)]

    def optional_text(self, key: str, max_length: int = MAX_EVENT_ID) -> str | None:
        """A non-empty string without control characters, or None when absent or empty."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > max_length or not is_clean(value):
            self.fail(key, f"must be a string of 1-{max_length} characters without control characters")
        return value

    def text(self, key: str, max_length: int = MAX_EVENT_ID) -> str:
        """A required non-empty string without control characters."""
        value = self.optional_text(key, max_length)
        if value is None:
            self.fail(key, "is required")
        return value

    def entity(self, key: str) -> str:
        """A required user or group id valid in Calltrail (``ENTITY_ID_RULE``)."""
        value = self.data.get(key)
        if value is None or value == "":
            self.fail(key, "is required")
        if not is_entity_id(value) or not is_clean(value):
            self.fail(key, ENTITY_ID_RULE)
        return str(value)

    def session(self, key: str) -> str:
        """A required session id valid in Calltrail (``SESSION_ID_RULE``)."""
        value = self.data.get(key)
        if value is None or value == "":
            self.fail(key, "is required")
        if not is_session_id(value):
            self.fail(key, SESSION_ID_RULE)
        return str(value)

    def int64(self, key: str) -> int:
        """A protobuf int64: a string of digits (or a number); absent means 0, as in proto3 JSON."""
        value = self.data.get(key, 0)
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.fail(key, "must be an integer (a protobuf int64)")

    def decimal(self, key: str) -> Decimal | None:
        """A number given as a JSON number or a numeric string, or None when absent."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str) or not _NUMBER.match(str(value)):
            self.fail(key, "must be a number or a numeric string")
        try:
            return Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
            self.fail(key, "must be a number or a numeric string")

    def unix_seconds(self, key: str) -> int | None:
        """Unix seconds (a number or numeric string, fractions allowed) as epoch ms, or None."""
        value = self.decimal(key)
        if value is None:
            return None
        return self.instant(key, int((value * 1000).to_integral_value()))

    def instant(self, key: str, millis: int) -> int:
        """``millis`` read from ``key``, checked to lie between 1970 and 9999."""
        if not MIN_MS < millis <= MAX_MS:
            self.fail(key, "is not a time between 1970 and 9999 in the unit this field uses")
        return millis
