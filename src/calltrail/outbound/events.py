"""Which change of a stored call raises which webhook event, and the body each one sends.

A writer compares a call's previous record (None for a new call) with the record it is about
to store, in the same transaction, and appends what :func:`session_events` or
:func:`voice_events` return to the outbox. Every path that stores a call (events, imports,
inbound adapters, rooms) goes through the two row writers, so all of them raise the same events.

* ``call.ended``: a CometChat-shaped call reached a final status for the first time;
* ``call.updated``: a call that had already ended changed (a late event, a recording, an import);
* ``call.missed``: one per user who newly missed the call (the user view's ``missed`` rule);
* ``recording.ready``: one per recording (by ``rid``) that the previous record did not have;
* ``voice.call.ended``: a Bird-shaped phone call reached a terminal status for the first time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.instants import format_rfc3339
from calltrail.sessions.vocabulary import FINAL_STATUSES
from calltrail.voice.vocabulary import TERMINAL_STATUSES

CALL_ENDED = "call.ended"
CALL_UPDATED = "call.updated"
CALL_MISSED = "call.missed"
RECORDING_READY = "recording.ready"
VOICE_CALL_ENDED = "voice.call.ended"
EVENT_TYPES = (CALL_ENDED, CALL_UPDATED, CALL_MISSED, RECORDING_READY, VOICE_CALL_ENDED)
#: A subscription to every event type, present and future.
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Raised:
    """One webhook event a change raises: its type and its ``data``."""

    type: str
    data: Any


def _final(record: Mapping[str, Any] | None, statuses: Collection[str]) -> bool:
    return record is not None and record.get("status") in statuses


def _rids(record: Mapping[str, Any] | None) -> set[str]:
    return {recording["rid"] for recording in (record or {}).get("recordings") or () if "rid" in recording}


def session_events(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    missed_before: Collection[str] = (),
    missed_after: Iterable[str] = (),
) -> list[Raised]:
    """The events a CometChat-shaped call raises when ``before`` becomes ``after`` (both in
    ``GET /v3/calls/{sessionId}`` shape). ``missed_*`` are the uids that missed the call
    before and after (see :class:`calltrail.sessions.vocabulary.Member`)."""
    raised: list[Raised] = []
    if _final(after, FINAL_STATUSES):
        if not _final(before, FINAL_STATUSES):
            raised.append(Raised(CALL_ENDED, after))
        elif before != after:
            raised.append(Raised(CALL_UPDATED, after))
    raised += [Raised(CALL_MISSED, {"uid": uid, "call": after}) for uid in missed_after if uid not in missed_before]
    known = _rids(before)
    for recording in after.get("recordings") or ():
        if recording.get("rid") not in known:
            raised.append(Raised(RECORDING_READY, {"sessionId": after["sessionId"], "recording": recording}))
    return raised


def voice_events(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Raised]:
    """The events a Bird-shaped phone call raises when ``before`` becomes ``after`` (both as
    the Bird API returns them)."""
    if _final(after, TERMINAL_STATUSES) and not _final(before, TERMINAL_STATUSES):
        return [Raised(VOICE_CALL_ENDED, after)]
    return []


def wanted(subscribed: Collection[str], event_type: str) -> bool:
    """True when a subscription to ``subscribed`` event types receives ``event_type``."""
    return WILDCARD in subscribed or event_type in subscribed


def body(raised: Raised, at_ms: int | str) -> bytes:
    """The JSON body a receiver gets: ``{"type", "timestamp" (RFC 3339), "data"}``; ``at_ms``
    may be given already formatted (one commit formats it once for all its events)."""
    timestamp = at_ms if isinstance(at_ms, str) else format_rfc3339(at_ms)
    return orjson.dumps({"type": raised.type, "timestamp": timestamp, "data": raised.data})
