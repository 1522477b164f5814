"""FreeSWITCH ``mod_json_cdr`` call detail records, as Bird status events.

Pure: no I/O. At hangup ``mod_json_cdr`` POSTs one CDR per call leg (the B-leg too with
``log-b-leg``) to ``<url>?uuid=<leg uuid>``, with HTTP Basic credentials from ``cred``:

* ``encode`` false (the default): the JSON itself, ``Content-Type: application/json``;
* ``encode`` true: ``cdr=<url-encoded JSON>``, ``application/x-www-form-urlencoded``;
* ``encode`` base64: ``cdr=<base64 JSON>``, ``application/x-www-form-base64-encoded``.

Independently, ``encode-values`` (on by default) URL-encodes every value under ``variables`` with
``switch_url_encode``; the caller profiles under ``callflow`` are never encoded. A CDR does not say
whether its values are encoded, so :func:`channel_variables` tells from the values themselves:
``switch_url_encode`` escapes spaces, ``@``, ``:``, ``+`` and the like, so a value holding one was
sent as is.

Each leg is one call whose id is the leg's own ``uuid``; a B-leg names its A-leg as ``parentId``.
The CDR holds the whole leg, so it becomes up to four status events with ids derived from the
leg: ``fs:<uuid>:starting``, ``:ringing``, ``:ongoing`` and ``:<final status>``. A CDR posted
twice (``mod_json_cdr`` retries) is therefore stored once. The mapping tables are documented for
users in docs/integrations/freeswitch.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs, unquote

from calltrail.adapters.base import BasicAuthAdapter, Domain, HookRequest, Translation
from calltrail.adapters.telephony_common import check_instant, decode_text, fail, is_digits, status_event
from calltrail.voice.vocabulary import CALL_TYPES, UUID_RULE, canonical_uuid

#: What ``switch_url_encode`` escapes besides ``%`` (switch_utils.c), and so never leaves in a value.
URL_UNSAFE = frozenset('\r\n "#&+:;<=>?@[\\]^`{|}')
#: ``hangup_cause`` of a leg that was never answered -> Bird status; any other cause is ``failed``.
#: An answered leg is ``completed`` whatever its cause (the cause is kept in ``hangupCauseCode``).
UNANSWERED_STATUS = {
    "USER_BUSY": "busy",
    "NO_ANSWER": "no-answer",
    "NO_USER_RESPONSE": "no-answer",
    "ORIGINATOR_CANCEL": "cancelled",
    # Ring-group legs that another leg beat to the answer, or that were picked up elsewhere.
    "LOSE_RACE": "cancelled",
    "PICKED_OFF": "cancelled",
}
#: Causes that say a timer, not a party, ended the leg.
TIMEOUT_SOURCE = {
    "NO_ANSWER": "timeout",
    "NO_USER_RESPONSE": "timeout",
    "ALLOTTED_TIMEOUT": "timeout",
    "MEDIA_TIMEOUT": "media-timeout",
}
DIRECTIONS = {"inbound": "incoming", "outbound": "outgoing"}
#: Variables naming the A-leg on a B-leg, in order of preference. ``bridge_uuid`` is not one of
#: them: both legs of a bridge name each other with it.
PARENT_VARIABLES = ("originating_leg_uuid", "originator")


def _json_object(text: str, where: str) -> dict[str, Any]:
    """The CDR object; a cut or garbled CDR names ``body`` (``where`` says which part held it)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail("body", f"{where} must be a complete JSON object ({exc})")
    if not isinstance(value, dict):
        fail("body", f"{where} must be a JSON object")
    return value


def load_cdr(request: HookRequest) -> dict[str, Any]:
    """The CDR of a ``mod_json_cdr`` POST: a JSON body, or the ``cdr`` field of a form holding
    URL-encoded JSON (``%7B...``) or base64 JSON (``eyJ...``). The body's shape decides, not its
    ``Content-Type``, so a proxy that rewrites the header changes nothing."""
    text = decode_text(request.body).strip()
    if not text.startswith("cdr="):
        return _json_object(text, "the JSON body")
    payload = text[len("cdr=") :]
    if payload.startswith(("%7B", "%7b", "{")):
        try:
            fields = parse_qs(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            fail("body", "the cdr form field must percent-encode UTF-8 text")
        return _json_object(fields["cdr"][0], "the cdr form field")
    try:
        decoded = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        fail("body", "the cdr form field must be URL-encoded or base64 JSON (encode=true or encode=base64)")
    return _json_object(decode_text(decoded), "the base64 cdr form field")


def values_are_encoded(values: list[str]) -> bool:
    """True when the values look like ``encode-values`` output: nothing ``switch_url_encode``
    would have escaped (it also escapes control and non-ASCII characters)."""
    return not any(char in URL_UNSAFE or not " " < char <= "~" for value in values for char in value)


def channel_variables(cdr: dict[str, Any]) -> dict[str, str]:
    """The leg's channel variables, decoded when ``encode-values`` encoded them."""
    raw = cdr.get("variables")
    if not isinstance(raw, dict):
        fail("variables", "is required: the channel variables of the leg")
    values = {name: value for name, value in raw.items() if isinstance(value, str)}
    if values_are_encoded(list(values.values())):
        return {name: unquote(value) for name, value in values.items()}
    return values


def original_profile(cdr: dict[str, Any]) -> dict[str, Any]:
    """The leg's first caller profile. ``callflow`` lists the newest profile first (a transfer
    adds one), so the last entry holds the number originally dialled. Old builds wrote one object
    (or repeated keys, of which JSON keeps the last: the oldest) instead of a list."""
    flow = cdr.get("callflow")
    if isinstance(flow, list):
        flow = flow[-1] if flow else None
    profile = flow.get("caller_profile") if isinstance(flow, dict) else None
    return profile if isinstance(profile, dict) else {}


def micros(variables: dict[str, str], name: str) -> int | None:
    """``<name>_uepoch`` (microseconds) or else ``<name>_epoch`` (seconds); 0 means never."""
    for suffix, scale in (("_uepoch", 1), ("_epoch", 1_000_000)):
        value = variables.get(name + suffix)
        if value is None or value == "":
            continue
        if not is_digits(value):
            fail(f"variables.{name}{suffix}", "must be a whole number of Unix time")
        at_us = int(value) * scale
        if at_us == 0:
            return None
        check_instant(at_us // 1000, f"variables.{name}{suffix}")
        return at_us
    return None


def leg_uuid(variables: dict[str, str], profile: dict[str, Any]) -> str:
    """The leg's uuid, lower case: it is the call id."""
    value = variables.get("uuid") or profile.get("uuid")
    canonical = canonical_uuid(value) if isinstance(value, str) else None
    if canonical is None:
        fail("variables.uuid", f"is required and {UUID_RULE}")
    return canonical


def parent_uuid(cdr: dict[str, Any], variables: dict[str, str], own: str) -> str | None:
    """A B-leg's A-leg: ``originating_leg_uuid``, else ``originator``, else the originator's
    caller profile in ``callflow``. None for an A-leg."""
    candidates = [variables.get(name) for name in PARENT_VARIABLES]
    originator = original_profile(cdr).get("originator")
    if isinstance(originator, dict) and isinstance(originator.get("originator_caller_profiles"), list):
        candidates += [p.get("uuid") for p in originator["originator_caller_profiles"] if isinstance(p, dict)]
    for candidate in candidates:
        canonical = canonical_uuid(candidate) if isinstance(candidate, str) else None
        if canonical is not None and canonical != own:
            return canonical
    return None


def leg_direction(cdr: dict[str, Any], variables: dict[str, str]) -> str:
    """``inbound`` legs (the switch answers a caller) are incoming, ``outbound`` legs outgoing."""
    channel_data = cdr.get("channel_data")
    fallback = channel_data.get("direction") if isinstance(channel_data, dict) else None
    direction = variables.get("direction") or fallback
    if direction not in DIRECTIONS:
        fail("variables.direction", "must be inbound or outbound")
    return DIRECTIONS[direction]


def leg_type(variables: dict[str, str]) -> str:
    """The dialplan's say first (``calltrail_type``: an inbound trunk call looks like any SIP
    call); then ``webrtc`` over WebSocket SIP or Verto, ``pstn`` through a gateway, else ``sip``."""
    if variables.get("calltrail_type") in CALL_TYPES:
        return variables["calltrail_type"]
    channel = variables.get("channel_name", "")
    if variables.get("sip_via_protocol", "").lower() in ("ws", "wss") or channel.startswith("verto"):
        return "webrtc"
    if variables.get("sip_gateway_name") or channel.startswith("sofia/gateway/"):
        return "pstn"
    return "sip"


def parties(variables: dict[str, str], profile: dict[str, Any]) -> tuple[str, str]:
    """``from`` and ``to``: the caller profile's ``caller_id_number`` and ``destination_number``.
    An originated leg that was answered has its caller id flipped to the callee's
    (``channel_cid_flipped``); the number before the flip is ``pre_transfer_caller_id_number``."""
    caller = profile.get("caller_id_number", variables.get("caller_id_number"))
    callee = profile.get("destination_number", variables.get("destination_number"))
    if variables.get("channel_cid_flipped") in ("yes", "true") and variables.get("pre_transfer_caller_id_number"):
        caller = variables["pre_transfer_caller_id_number"]
    if not isinstance(caller, str) or not isinstance(callee, str):
        fail("callflow", "must hold the leg's caller_profile (caller_id_number, destination_number)")
    return caller, callee


def final_status(cause: str | None, answered: bool) -> str:
    """Bird's status of a finished leg (see :data:`UNANSWERED_STATUS`)."""
    if answered:
        return "completed"
    return UNANSWERED_STATUS.get(cause or "", "failed")


def hangup_source(disposition: str | None, cause: str | None, direction: str) -> str | None:
    """Who ended the leg. A timer cause says so; otherwise ``sip_hangup_disposition`` tells
    whether the far end of this leg hung up (``recv_*``) or the switch did on behalf of the
    other side (``send_*``). The far end of an incoming leg is the caller, of an outgoing one
    the callee."""
    if cause in TIMEOUT_SOURCE:
        return TIMEOUT_SOURCE[cause]
    far_end, other_side = ("caller", "callee") if direction == "incoming" else ("callee", "caller")
    action = (disposition or "").split("_")[0]
    return {"recv": far_end, "send": other_side}.get(action)


def sip_code(variables: dict[str, str], answered: bool) -> str | None:
    """The SIP code that ended the leg: ``sip_term_status``, else the INVITE's failure status,
    else ``proto_specific_hangup_cause`` (``sip:487``); an answered SIP leg got a 200."""
    for name in ("sip_term_status", "sip_invite_failure_status"):
        if is_digits(variables.get(name, "")):
            return variables[name]
    proto = variables.get("proto_specific_hangup_cause", "")
    if proto.startswith("sip:") and is_digits(proto[4:]):
        return proto[4:]
    return "200" if answered and variables.get("channel_name", "").startswith("sofia/") else None


def _stats_mos(cdr: dict[str, Any]) -> tuple[str | None, str | None]:
    """``callStats.audio.inbound`` (newer builds): the MOS and media packet count."""
    stats = cdr.get("callStats")
    audio = stats.get("audio") if isinstance(stats, dict) else None
    inbound = audio.get("inbound") if isinstance(audio, dict) else None
    if not isinstance(inbound, dict):
        return None, None
    mos, packets = inbound.get("mos"), inbound.get("media_packet_count")
    return (None if mos is None else str(mos)), (None if packets is None else str(packets))


def _score(text: str) -> str | None:
    """A MOS as Bird shows it (``"4.47"``), or None if it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return f"{value:.2f}" if 0 <= value <= 5 else None


def quality(cdr: dict[str, Any], variables: dict[str, str], start: int, ringing: int | None) -> dict[str, str]:
    """``qualityInsights``: the inbound audio MOS, and the post-dial delay to the first ringing.

    FreeSWITCH reports a MOS of 4.50 for a leg that received no audio at all, so the MOS is kept
    only when media packets arrived (or when the packet count is not reported)."""
    insights: dict[str, str] = {}
    stats_mos, stats_packets = _stats_mos(cdr)
    mos = variables.get("rtp_audio_in_mos") or stats_mos
    packets = variables.get("rtp_audio_in_media_packet_count") or stats_packets
    score = _score(mos) if mos is not None and packets != "0" else None
    if score is not None:
        insights["mos"] = score
    if ringing is not None:
        insights["pdd"] = f"{max(0, ringing - start) / 1_000_000:.2f}"
    return insights


def signalling(variables: dict[str, str], answered: bool) -> dict[str, str]:
    """``sipInsights``: the final SIP code and what the leg's SIP dialog says about the far end."""
    insights: dict[str, str] = {}
    code = sip_code(variables, answered)
    if code is not None:
        insights["hangupSipCode"] = code
    for key, name in (
        ("userAgent", "sip_user_agent"),
        ("remoteSignallingIp", "sip_network_ip"),
        ("remoteMediaIp", "remote_media_ip"),
    ):
        if variables.get(name):
            insights[key] = variables[name][:255]
    return insights


def outcome_fields(
    cdr: dict[str, Any], variables: dict[str, str], times: dict[str, int | None], direction: str
) -> dict[str, Any]:
    """The fields of the final event: duration, hangup cause, source, insights."""
    answered = times["answer"] is not None
    cause = variables.get("hangup_cause")
    fields: dict[str, Any] = {}
    if is_digits(variables.get("billsec", "")):
        fields["duration"] = int(variables["billsec"])
    if is_digits(variables.get("hangup_cause_q850", "")):
        fields["hangupCauseCode"] = min(int(variables["hangup_cause_q850"]), 65535)
    source = hangup_source(variables.get("sip_hangup_disposition"), cause, direction)
    if source is not None:
        fields["hangupSource"] = source
    if final_status(cause, answered) == "failed" and cause:
        fields["reason"] = cause.lower().replace("_", " ")
    start = times["start"] or 0
    for key, insights in (
        ("sipInsights", signalling(variables, answered)),
        ("qualityInsights", quality(cdr, variables, start, times["ringing"])),
    ):
        if insights:
            fields[key] = insights
    return fields


def leg_times(variables: dict[str, str]) -> dict[str, int | None]:
    """The leg's milestones in microseconds: start and end are required; ringing is the first
    provisional response (``progress`` 180 or ``progress_media`` 183)."""
    times = {name: micros(variables, name) for name in ("start", "answer", "end")}
    progress = [t for t in (micros(variables, "progress"), micros(variables, "progress_media")) if t is not None]
    times["ringing"] = min(progress) if progress else None
    for name in ("start", "end"):
        if times[name] is None:
            fail(f"variables.{name}_epoch", "is required: a CDR is written when the leg has ended")
    return times


def translate_cdr(cdr: dict[str, Any]) -> Translation:
    """The status events of one leg's CDR (``loopback/`` legs, internal to the switch, are
    counted as ignored)."""
    variables = channel_variables(cdr)
    if variables.get("channel_name", "").startswith("loopback/"):
        return Translation(events=[], ignored=1)
    profile = original_profile(cdr)
    call_id = leg_uuid(variables, profile)
    from_, to = parties(variables, profile)
    identity: dict[str, Any] = {
        "direction": leg_direction(cdr, variables),
        "type": leg_type(variables),
        "from": from_,
        "to": to,
    }
    parent = parent_uuid(cdr, variables, call_id)
    if parent is not None:
        identity["parentId"] = parent
    times = leg_times(variables)
    status = final_status(variables.get("hangup_cause"), times["answer"] is not None)
    outcome = outcome_fields(cdr, variables, times, identity["direction"])
    milestones: list[tuple[str, int | None, dict[str, Any]]] = [
        ("starting", times["start"], {}),
        ("ringing", times["ringing"], {}),
        ("ongoing", times["answer"], {}),
        (status, times["end"], outcome),
    ]
    events = [
        status_event(f"fs:{call_id}:{name}", call_id, name, at // 1000, {**identity, **extra})
        for name, at, extra in milestones
        if at is not None
    ]
    return Translation(events=events)


class FreeSwitchAdapter(BasicAuthAdapter):
    """``mod_json_cdr`` CDRs, authenticated by the endpoint with HTTP Basic (``cred``)."""

    provider: str = "freeswitch"
    domain: Domain = "voice"

    def translate(self, request: HookRequest) -> Translation:
        """The status events of the leg the CDR describes."""
        return translate_cdr(load_cdr(request))


ADAPTER = FreeSwitchAdapter()
