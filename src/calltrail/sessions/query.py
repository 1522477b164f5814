"""A storage-neutral description of which calls a list request wants.

Pure: no I/O. API dialects parse their own query strings into a :class:`CallQuery`; the store
compiles it to SQL against an allow-list of columns, so no request text reaches SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

#: Comparison operators, by the names CometChat's bracket notation uses.
OPERATORS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

#: Call columns a condition may name, and the Python type of their values.
CALL_COLUMNS: dict[str, type] = {
    "session_id": str,
    "initiated_at": int,
    "status": str,
    "type": str,
    "mode": str,
    "receiver_type": str,
    "initiator": str,
    "receiver": str,
    "started_at": int,
    "ended_at": int,
    "duration": float,
    "audio_minutes": float,
    "video_minutes": float,
    "total_participants": int,
    "participants_count": int,
    "has_recording": int,
}
#: Per-user flags a member condition may require (see :class:`calltrail.sessions.vocabulary.Member`).
MEMBER_FLAGS = ("is_initiator", "joined", "rejected", "missed")


@dataclass(frozen=True, slots=True)
class Condition:
    """``column op value``; ``op`` is a key of :data:`OPERATORS` or ``in`` (value is a tuple)."""

    column: str
    op: str
    value: object

    def __post_init__(self) -> None:
        if self.column not in CALL_COLUMNS:
            raise ValueError(f"not a filterable call column: {self.column}")
        if self.op not in OPERATORS and self.op != "in":
            raise ValueError(f"unknown operator: {self.op}")


@dataclass(frozen=True, slots=True)
class MemberCondition:
    """The call must involve ``uid`` (initiator, receiver, participant or invitee), with flags."""

    uid: str
    flags: tuple[tuple[str, bool], ...] = ()

    def __post_init__(self) -> None:
        for flag, _ in self.flags:
            if flag not in MEMBER_FLAGS:
                raise ValueError(f"unknown member flag: {flag}")


@dataclass(frozen=True, slots=True)
class CallQuery:
    """All conditions must hold. Results are ordered newest ``initiatedAt`` first, ties by
    ``sessionId`` descending."""

    conditions: tuple[Condition, ...] = ()
    members: tuple[MemberCondition, ...] = field(default=())

    def where(self, column: str, op: str, value: object) -> CallQuery:
        """A copy with one more condition."""
        return replace(self, conditions=(*self.conditions, Condition(column, op, value)))

    def involving(self, uid: str, **flags: bool) -> CallQuery:
        """A copy that also requires ``uid`` to be part of the call (with the given flags)."""
        return replace(self, members=(*self.members, MemberCondition(uid, tuple(sorted(flags.items())))))
