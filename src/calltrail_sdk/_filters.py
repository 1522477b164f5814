"""Typed filters for listing calls: every filter and bracket operator of ``GET /v3/calls``.

```python
CallFilter(status="ended", initiated_at=Range(gte=1700000000, lt=1710000000), duration=Range(gt=1.5))
```
becomes ``status=ended&initiatedAt[gte]=1700000000&initiatedAt[lt]=1710000000&duration[gt]=1.5``.
Every value is checked when the filter is made; a bad one raises ``ValueError`` naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal, get_args

CallType = Literal["audio", "video"]
CallStatus = Literal["initiated", "ongoing", "ended", "unanswered", "rejected", "busy", "cancelled"]
CallMode = Literal["call", "meet", "presenter"]
ReceiverType = Literal["user", "group"]
#: What a filter accepts: the values, and the spellings the server also takes (the aliases below).
CallTypeInput = CallType | Literal["voice"]
CallStatusInput = CallStatus | Literal["canceled"]

CALL_TYPES: tuple[str, ...] = get_args(CallType)
CALL_STATUSES: tuple[str, ...] = get_args(CallStatus)
CALL_MODES: tuple[str, ...] = get_args(CallMode)
RECEIVER_TYPES: tuple[str, ...] = get_args(ReceiverType)
#: Input spellings the server also accepts, and what they mean.
TYPE_ALIASES = {"voice": "audio"}
STATUS_ALIASES = {"canceled": "cancelled"}

_ENTITY_ID = re.compile(r"^[^\s/?#%\x00-\x1f\x7f]{1,100}$")
MAX_TIMESTAMP = 253402300799
OPERATORS = ("eq", "gt", "gte", "lt", "lte")


def check_entity_id(name: str, value: object) -> str:
    """A uid or guid, or ``ValueError`` naming ``name``."""
    if not isinstance(value, str) or not _ENTITY_ID.match(value):
        raise ValueError(f"{name} must be 1-100 characters without spaces, '/', '?', '#' or '%', got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str], aliases: dict[str, str] | None = None) -> str:
    """One of ``choices`` (an alias is replaced by what it means), or ``ValueError`` naming ``name``."""
    if isinstance(value, str):
        value = (aliases or {}).get(value, value)
        if value in choices:
            return value
    raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Range:
    """Comparisons on one numeric field; every bound given must hold.

    ``Range(gte=1700000000, lt=1710000000)``; ``Range(eq=2)`` equals passing ``2``.
    """

    eq: int | float | None = None
    gt: int | float | None = None
    gte: int | float | None = None
    lt: int | float | None = None
    lte: int | float | None = None

    def __post_init__(self) -> None:
        if all(getattr(self, op) is None for op in OPERATORS):
            raise ValueError("Range needs at least one of eq, gt, gte, lt, lte")

    def bounds(self) -> list[tuple[str, int | float]]:
        """``(operator, value)`` for every bound given, in the order eq, gt, gte, lt, lte."""
        return [(op, value) for op in OPERATORS if (value := getattr(self, op)) is not None]


#: Filter fields: (wire name, kind). Kinds: ``timestamp`` and ``count`` are integers,
#: ``minutes`` any number; each of these takes a plain value or a :class:`Range`.
_RANGED = {
    "participants_count": ("participantsCount", "count", False),
    "initiated_at": ("initiatedAt", "timestamp", True),
    "started_at": ("startedAt", "timestamp", True),
    "ended_at": ("endedAt", "timestamp", True),
    "duration": ("duration", "minutes", True),
    "total_participants": ("totalParticipants", "count", True),
    "voice_minutes": ("voiceMinutes", "minutes", True),
    "video_minutes": ("videoMinutes", "minutes", True),
}


def _number(name: str, kind: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if kind == "minutes":
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite, non-negative number of minutes, got {value!r}")
        return repr(float(value)) if isinstance(value, float) else str(value)
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    upper = MAX_TIMESTAMP if kind == "timestamp" else 10**9
    if not 0 <= value <= upper:
        raise ValueError(f"{name} must be between 0 and {upper}, got {value!r}")
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFilter:
    """Which calls to list: every field given must match (None means "any").

    **Fields** (wire names in brackets):

    * ``type`` / ``types``: ``audio`` or ``video`` (``voice`` means ``audio``)
    * ``status`` / ``statuses``: ``initiated ongoing ended unanswered rejected busy cancelled``
      (``canceled`` means ``cancelled``)
    * ``mode``: ``call``, ``meet`` or ``presenter``; ``receiver_type``: ``user`` or ``group``
    * ``has_recording``: True or False
    * ``uid``: calls the user is part of (initiator, receiver, participant or invitee); in the
      user view, the 1:1 calls between you and that user
    * ``participants_count`` (int), and, each an exact value or a :class:`Range`:
      ``initiated_at``, ``started_at``, ``ended_at`` (Unix seconds), ``total_participants``,
      ``duration``, ``voice_minutes``, ``video_minutes`` (minutes)
    """

    type: CallTypeInput | None = None
    types: Sequence[CallTypeInput] | None = None
    mode: CallMode | None = None
    status: CallStatusInput | None = None
    statuses: Sequence[CallStatusInput] | None = None
    receiver_type: ReceiverType | None = None
    has_recording: bool | None = None
    uid: str | None = None
    participants_count: int | None = None
    initiated_at: int | Range | None = None
    started_at: int | Range | None = None
    ended_at: int | Range | None = None
    duration: float | Range | None = None
    total_participants: int | Range | None = None
    voice_minutes: float | Range | None = None
    video_minutes: float | Range | None = None

    def __post_init__(self) -> None:
        # Validate eagerly, so a mistake surfaces where the filter is written.
        self.to_params()

    def to_params(self) -> list[tuple[str, str]]:
        """The query parameters, in field order."""
        params: list[tuple[str, str]] = []
        for item in fields(self):
            name, value = item.name, getattr(self, item.name)
            if value is None:
                continue
            if name == "type":
                params.append(("type", check_choice(name, value, CALL_TYPES, TYPE_ALIASES)))
            elif name == "types":
                chosen = _choices(name, value, CALL_TYPES, TYPE_ALIASES)
                params.append(("types", ",".join(chosen)))
            elif name == "status":
                params.append(("status", check_choice(name, value, CALL_STATUSES, STATUS_ALIASES)))
            elif name == "statuses":
                params.append(("statuses", ",".join(_choices(name, value, CALL_STATUSES, STATUS_ALIASES))))
            elif name == "mode":
                params.append(("mode", check_choice(name, value, CALL_MODES)))
            elif name == "receiver_type":
                params.append(("receiverType", check_choice(name, value, RECEIVER_TYPES)))
            elif name == "has_recording":
                if not isinstance(value, bool):
                    raise ValueError(f"has_recording must be True or False, got {value!r}")
                params.append(("hasRecording", "true" if value else "false"))
            elif name == "uid":
                params.append(("uid", check_entity_id(name, value)))
            else:
                wire, kind, ranged = _RANGED[name]
                if isinstance(value, Range):
                    if not ranged:
                        raise ValueError(f"{name} takes an exact value, not a Range")
                    params += [(f"{wire}[{op}]", _number(name, kind, bound)) for op, bound in value.bounds()]
                else:
                    params.append((wire, _number(name, kind, value)))
        return params


def _choices(name: str, values: object, choices: Sequence[str], aliases: dict[str, str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of {', '.join(choices)}")
    return list(dict.fromkeys(check_choice(name, value, choices, aliases) for value in values))
