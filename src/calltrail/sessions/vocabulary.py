"""The call-log vocabulary: enumerations, identifier rules and the stored call row.

Pure: no I/O. The wire spellings here are CometChat's (``audio``/``video``, ``cancelled``);
input aliases (``voice``, ``canceled``) are normalised by :func:`normalize_type` and
:func:`normalize_status`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calltrail.kernel.errors import InvalidRequest

CALL_TYPES = ("audio", "video")
CALL_MODES = ("call", "meet", "presenter")
RECEIVER_TYPES = ("user", "group")
CALL_STATUSES = ("initiated", "ongoing", "ended", "unanswered", "rejected", "busy", "cancelled")
#: Statuses of a call that is over (used by the per-user ``missed`` rule).
FINAL_STATUSES = frozenset(("ended", "unanswered", "rejected", "busy", "cancelled"))
PARTICIPANT_STATES = ("ongoing", "ended", "unanswered", "rejected")

_TYPE_ALIASES = {"audio": "audio", "voice": "audio", "video": "video"}
_STATUS_ALIASES = {status: status for status in CALL_STATUSES} | {"canceled": "cancelled"}

#: User and group ids. CometChat allows alpha-dash; migrated data is often looser, so any
#: printable character except whitespace, ``/``, ``?``, ``#`` and ``%`` is accepted.
ENTITY_ID_PATTERN = re.compile(r"^[^\s/?#%\x00-\x1f\x7f]{1,100}\Z")
#: Session ids appear in URL paths, so they are limited to URL-safe characters.
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~:@+=-]{1,255}\Z")

ENTITY_ID_RULE = "must be 1-100 characters without spaces, '/', '?', '#' or '%'"
SESSION_ID_RULE = "must be 1-255 characters of letters, digits and . _ ~ : @ + = -"


def normalize_type(value: str) -> str | None:
    """``voice`` and ``audio`` are one media type; returns None for an unknown type."""
    return _TYPE_ALIASES.get(value)


def normalize_status(value: str) -> str | None:
    """Accept the overview's ``canceled`` for ``cancelled``; returns None for an unknown status."""
    return _STATUS_ALIASES.get(value)


def is_entity_id(value: object) -> bool:
    """True for a valid uid or guid."""
    return isinstance(value, str) and ENTITY_ID_PATTERN.match(value) is not None


def is_session_id(value: object) -> bool:
    """True for a valid call session id."""
    return isinstance(value, str) and SESSION_ID_PATTERN.match(value) is not None


def path_session_id(value: str) -> str:
    """A session id taken from a URL path; 400 naming ``sessionId`` when it cannot be one (a
    NUL or a newline in it, say), rather than a lookup no engine can answer alike."""
    if not is_session_id(value):
        raise InvalidRequest(details={"sessionId": [SESSION_ID_RULE]})
    return value


@dataclass(frozen=True, slots=True)
class Member:
    """A user involved in a call, as indexed for per-user queries.

    ``missed`` is precomputed so a user's missed calls come straight from an index: the user
    did not initiate the call, never joined it, did not reject it, and the call is over.
    """

    uid: str
    is_initiator: bool
    joined: bool
    rejected: bool
    missed: bool


@dataclass(frozen=True, slots=True)
class CallRow:
    """One call as stored: the filterable columns plus the rendered record.

    ``summary`` is the record in list shape (no ``metaData``/``tags``) as JSON bytes, so a list
    response is assembled without decoding rows; ``extra`` holds the fields only Get Call shows.
    The columns always equal the values the record shows, so filters match what clients see.
    """

    session_id: str
    source: str
    initiated_at: int
    status: str
    type: str
    mode: str
    receiver_type: str
    initiator: str
    receiver: str
    started_at: int | None
    ended_at: int | None
    duration: float
    audio_minutes: float
    video_minutes: float
    total_participants: int
    participants_count: int
    has_recording: bool
    summary: bytes
    extra: bytes | None
    #: The values of ``record.SCALAR_FIELDS`` as a compact JSON array (``null`` when absent).
    scalars: bytes
    members: tuple[Member, ...]
