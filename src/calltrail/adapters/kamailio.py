"""Kamailio: the dialog reports of ``contrib/kamailio/kamailio.cfg`` as Bird status events.

Pure: no I/O. Kamailio has no webhook of its own; the shipped configuration tracks each INVITE
dialog and POSTs one flat JSON object per SIP event (``contrib/kamailio/README.md`` documents
the shape)::

    {"event": "dialog.failed", "eventId": "a84b4c76e66710@pc33:dialog.failed",
     "time": 1700000000.123456, "callId": "a84b4c76e66710@pc33",
     "fromUri": "sip:alice@example.com", "fromUser": "alice", "fromName": "Alice",
     "toUri": "sip:bob@192.0.2.7:5060", "toUser": "bob", "direction": "outgoing",
     "sipCode": 486, "reason": "Busy Here"}

Each report becomes one status event of the voice domain (docs/bird-voice-api.md):

* the call is the SIP Call-ID: its Calltrail id is ``uuid5(CALL_NAMESPACE, Call-ID)``, so every
  report of a dialog, from any Kamailio process and in any order, lands on the same call;
* the event id is ``kamailio:<eventId>`` (a SHA-256 of it past 255 characters), so a
  redelivered report is a duplicate and changes nothing;
* ``dialog.start`` -> ``starting``, ``dialog.ringing`` -> ``ringing``, ``dialog.answered`` ->
  ``ongoing``, ``dialog.end`` -> ``completed`` (``hangupSource`` from ``hangupBy``; the
  duration is folded from the answered and end times), ``dialog.failed`` -> a status chosen by
  the SIP code (:func:`failure_outcome`).

Every report carries the call's parties, so whichever arrives first makes the call listable.
Unknown event names are counted as ignored, for forward compatibility with newer
configurations; unknown members are ignored likewise.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson

from calltrail.adapters.base import BasicAuthAdapter, Domain, HookRequest, Translation
from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import format_rfc3339, parse_instant
from calltrail.kernel.problems import Problems
from calltrail.voice.fields import MAX_REASON, MAX_TEXT

#: Fixed forever: changing it would give every Kamailio call a new Calltrail id.
CALL_NAMESPACE: Final = uuid.UUID("fe231012-0f56-4577-b3af-6202e5b50603")
EVENT_ID_PREFIX: Final = "kamailio:"
MAX_EVENT_ID: Final = 255

#: Report name -> status, for every report but ``dialog.failed`` (see :func:`failure_outcome`).
STATUS_BY_EVENT: Final = {
    "dialog.start": "starting",
    "dialog.ringing": "ringing",
    "dialog.answered": "ongoing",
    "dialog.end": "completed",
}
FAILED: Final = "dialog.failed"
EVENTS: Final = frozenset((*STATUS_BY_EVENT, FAILED))
#: ``hangupBy`` of ``dialog.end`` -> Bird's ``hangupSource``. ``timeout``: the dialog ended
#: without a BYE (its lifetime expired in Kamailio, or an operator ended it).
HANGUP_BY: Final = {"caller": "caller", "callee": "callee", "timeout": "timeout"}
DIRECTIONS: Final = ("incoming", "outgoing")

#: Normal call clearing: the Q.850 cause of an answered call that hung up.
NORMAL_CLEARING: Final = 16
#: Final SIP responses -> Q.850 cause values, RFC 3398 section 8.2.6.1. 487 (a CANCEL) and the
#: codes the RFC maps "by Warning header" (488, 606) have none, and then no cause is given.
Q850_BY_SIP_CODE: Final = {
    400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21, 408: 102, 410: 22,
    413: 127, 414: 127, 415: 79, 416: 127, 420: 127, 421: 127, 423: 127, 480: 18, 481: 41,
    482: 25, 483: 25, 484: 28, 485: 1, 486: 17, 500: 41, 501: 79, 502: 38, 503: 41, 504: 102,
    505: 127, 513: 127, 600: 17, 603: 21, 604: 1,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Report:
    """One validated dialog report. Empty strings stand for members Kamailio had no value for."""

    event: str
    event_id: str
    sip_call_id: str
    at_ms: int
    from_uri: str
    from_user: str
    from_name: str
    to_uri: str
    to_user: str
    direction: str
    sip_code: int | None
    reason: str
    hangup_by: str


def call_uuid(sip_call_id: str) -> str:
    """The Calltrail call id of a SIP Call-ID."""
    return str(uuid.uuid5(CALL_NAMESPACE, sip_call_id))


def event_id(report_event_id: str) -> str:
    """The status event's id: the report's own, prefixed, or a hash of it when too long."""
    candidate = EVENT_ID_PREFIX + report_event_id
    if len(candidate) <= MAX_EVENT_ID:
        return candidate
    return EVENT_ID_PREFIX + "sha256:" + hashlib.sha256(report_event_id.encode()).hexdigest()


def failure_outcome(sip_code: int) -> tuple[str, str]:
    """The ``(status, hangupSource)`` of a call whose INVITE got this final negative reply.

    Bird has no "rejected" status: 603 Decline counts as ``busy`` with 486 and 600, because the
    callee's reject button sends 486 on some phones and 603 on others, and both mean the callee
    would not take the call. 408 is Kamailio's (or a downstream proxy's) ring timer expiring;
    480 is the callee's side giving up, shown with source ``none`` as in Bird's own records.
    """
    if sip_code in (486, 600, 603):
        return "busy", "callee"
    if sip_code == 408:
        return "no-answer", "timeout"
    if sip_code == 480:
        return "no-answer", "none"
    if sip_code == 487:
        return "cancelled", "caller"
    return "failed", "none"


def _decode(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``, whatever the Content-Type: Kamailio 5.6's http_client can
    add only one header, Authorization, so its POSTs are labelled form-encoded.

    Bytes that are not UTF-8 become U+FFFD rather than failing the report: Kamailio copies SIP
    header bytes (a display name from a misconfigured phone) into the JSON as they came."""
    try:
        payload = orjson.loads(body.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("The body is not valid JSON.", {"body": [f"is not valid JSON ({exc})"]}) from None
    if not isinstance(payload, dict):
        raise InvalidRequest(details={"body": ["must be a JSON object: one Kamailio dialog report"]})
    return payload


def _text(payload: dict[str, Any], key: str, problems: Problems, *, required: bool, limit: int = MAX_TEXT) -> str:
    """A string member (empty when absent and optional). Longer values are refused, not cut:
    a cut URI or Call-ID would name another party or call."""
    value = payload.get(key)
    if value is None and not required:
        return ""
    lower = 1 if required else 0
    if not isinstance(value, str) or not lower <= len(value) <= limit:
        need = "is required: " if required else "must be "
        problems.fail(key, f"{need}a string of {lower}-{limit} characters")
        return ""
    if any(unicodedata.category(char) == "Cc" for char in value):
        # The configuration turns them into spaces; a JSON escape such as \u0001 would still
        # bring one, and the event log keeps none.
        problems.fail(key, "must not contain control characters")
        return ""
    return value


def _sip_code(payload: dict[str, Any], event: str, problems: Problems) -> int | None:
    """``sipCode``: required for ``dialog.failed`` (a final negative code), else optional."""
    value = payload.get("sipCode")
    lowest = 300 if event == FAILED else 100
    if value is None and event != FAILED:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 699:
        need = "is required for dialog.failed: " if event == FAILED else "must be "
        problems.fail("sipCode", f"{need}a SIP status code between {lowest} and 699")
        return None
    return value


def _time(payload: dict[str, Any], problems: Problems) -> int:
    """``time``: Unix seconds with a fraction, as epoch milliseconds."""
    value = payload.get("time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.fail("time", "is required: Unix seconds (a number, e.g. 1700000000.123456)")
        return 0
    try:
        return parse_instant(value)
    except ValueError as exc:
        problems.fail("time", str(exc))
        return 0


def _choice(payload: dict[str, Any], key: str, options: tuple[str, ...], problems: Problems, default: str) -> str:
    """A member limited to ``options``; ``default`` when absent (or empty) and a default exists."""
    value = payload.get(key)
    if value in (None, "") and default:
        return default
    if value not in options:
        need = "must be" if default else "is required:"
        problems.fail(key, f"{need} one of {', '.join(options)}")
        return default
    return str(value)


def read_report(payload: dict[str, Any]) -> Report:
    """Validate one decoded report of a known event; raise :class:`InvalidRequest` naming every
    member at fault."""
    problems = Problems()
    event = str(payload["event"])
    sip_call_id = _text(payload, "callId", problems, required=True)
    report = Report(
        event=event,
        event_id=_text(payload, "eventId", problems, required=False) or f"{sip_call_id}:{event}",
        sip_call_id=sip_call_id,
        at_ms=_time(payload, problems),
        from_uri=_text(payload, "fromUri", problems, required=True),
        from_user=_text(payload, "fromUser", problems, required=False),
        from_name=_text(payload, "fromName", problems, required=False),
        to_uri=_text(payload, "toUri", problems, required=True),
        to_user=_text(payload, "toUser", problems, required=False),
        direction=_choice(payload, "direction", DIRECTIONS, problems, "outgoing"),
        sip_code=_sip_code(payload, event, problems),
        reason=_text(payload, "reason", problems, required=False, limit=MAX_REASON),
        hangup_by=_choice(payload, "hangupBy", tuple(HANGUP_BY), problems, "") if event == "dialog.end" else "",
    )
    problems.raise_if_any("Invalid Kamailio dialog report.")
    return report


def _party(uri: str, name: str = "") -> dict[str, Any]:
    """Bird's ``originator``/``receiver`` for a SIP party."""
    number: dict[str, Any] = {"type": "sip", "number": uri}
    if name:
        number["callerIdName"] = name
    return {"number": number}


def _outcome(report: Report) -> dict[str, Any]:
    """The status and, for a finished call, how it ended."""
    if report.event == "dialog.end":
        return {
            "status": "completed",
            "hangupSource": HANGUP_BY[report.hangup_by],
            "hangupCauseCode": NORMAL_CLEARING,
            "hangupSipCode": "200",
        }
    if report.event != FAILED or report.sip_code is None:
        return {"status": STATUS_BY_EVENT[report.event]}
    status, source = failure_outcome(report.sip_code)
    fields: dict[str, Any] = {"status": status, "hangupSource": source, "hangupSipCode": str(report.sip_code)}
    cause = Q850_BY_SIP_CODE.get(report.sip_code)
    if cause is not None:
        fields["hangupCauseCode"] = cause
    if report.reason:
        fields["reason"] = report.reason
    return fields


def to_status_event(report: Report) -> dict[str, Any]:
    """The Bird status event (the body shape of ``POST …/calls/events``) of one report."""
    outcome = _outcome(report)
    insights = {"sipCallId": report.sip_call_id}
    if "hangupSipCode" in outcome:
        # Bird's records show the code inside sipInsights; the top-level field is kept as well.
        insights["hangupSipCode"] = outcome["hangupSipCode"]
    return {
        "id": event_id(report.event_id),
        "callId": call_uuid(report.sip_call_id),
        "at": format_rfc3339(report.at_ms),
        **outcome,
        "direction": report.direction,
        "type": "sip",
        "from": report.from_user or report.from_uri,
        "to": report.to_user or report.to_uri,
        "originator": _party(report.from_uri, report.from_name),
        "receiver": _party(report.to_uri),
        "sipInsights": insights,
    }


class KamailioAdapter(BasicAuthAdapter):
    """The ``kamailio`` provider: Basic-authenticated dialog reports feeding voice calls."""

    provider: str = "kamailio"
    domain: Domain = "voice"

    def translate(self, request: HookRequest) -> Translation:
        """One report -> one status event; an unknown event name is counted as ignored."""
        payload = _decode(request.body)
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise InvalidRequest(details={"event": [f"is required: one of {', '.join(sorted(EVENTS))}"]})
        if event not in EVENTS:
            return Translation(events=[], ignored=1)
        return Translation(events=[to_status_event(read_report(payload))])


ADAPTER: Final = KamailioAdapter()
