"""The vocabulary of Bird's Voice calls: enumerations, identifier rules and the lifecycle.

Pure: no I/O. Spellings are Bird's (``cancelled`` with two l's, ``no-answer``), from spec file 004
and Part A.2 of the research notes.
"""

from __future__ import annotations

import re
import uuid

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.tenancy import check_name

#: Call statuses in lifecycle order; the last five are terminal.
STATUSES = (
    "accepted",
    "scheduled",
    "starting",
    "ringing",
    "ongoing",
    "completed",
    "no-answer",
    "busy",
    "failed",
    "cancelled",
)
TERMINAL_STATUSES = frozenset(("completed", "no-answer", "busy", "failed", "cancelled"))
#: How far along the lifecycle each status is. Terminal statuses share the last rank: which of
#: two terminal events wins is decided by time, not by rank (see :mod:`calltrail.voice.fold`).
LIFECYCLE_RANK = {
    "accepted": 0,
    "scheduled": 1,
    "starting": 2,
    "ringing": 3,
    "ongoing": 4,
    **{status: 5 for status in TERMINAL_STATUSES},
}
CALL_TYPES = ("pstn", "sip", "webrtc")
DIRECTIONS = ("incoming", "outgoing")
HANGUP_SOURCES = ("callee", "caller", "api", "timeout", "media-timeout", "none")
SIP_TYPES = ("elastic", "byoc", "forward")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
UUID_RULE = "must be a UUID, e.g. 4fc2edf7-68f5-437a-89eb-3ce0095409d6"


def is_uuid(value: object) -> bool:
    """True for a UUID in its canonical 8-4-4-4-12 hex form (either case)."""
    return isinstance(value, str) and _UUID.match(value) is not None


def canonical_uuid(value: str) -> str | None:
    """The lower-case form of a UUID, or None if ``value`` is not one.

    UUIDs compare case-insensitively; ids are stored and looked up in lower case so that
    ``4FC2...`` and ``4fc2...`` name the same call.
    """
    return value.lower() if is_uuid(value) else None


def new_channel_settings(name: str, channel_id: str | None = None) -> tuple[str, str]:
    """``(name, channel id)`` of a new channel, checked; a random UUID is chosen when
    ``channel_id`` is None. Raises :class:`~calltrail.kernel.errors.InvalidRequest`."""
    check_name(name)
    if channel_id is None:
        return name, str(uuid.uuid4())
    canonical = canonical_uuid(channel_id)
    if canonical is None:
        raise InvalidRequest(details={"id": [UUID_RULE]})
    return name, canonical
