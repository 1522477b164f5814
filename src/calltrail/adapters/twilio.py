"""Twilio Programmable Voice status callbacks, as Bird status events.

Pure: no I/O. Twilio POSTs a form (``application/x-www-form-urlencoded``) to a call's
``StatusCallback`` URL for each ``StatusCallbackEvent`` subscribed to (``initiated``, ``ringing``,
``answered``, ``completed``), signed in ``X-Twilio-Signature``. One callback becomes one status
event; the mapping is documented for users in docs/integrations/twilio.md.

Identifiers:

* ``callId`` is ``uuid5(NAMESPACE, CallSid)`` (:func:`call_uuid`), so every leg (``CallSid``) is
  one call and a child leg's ``ParentCallSid`` maps to its parent's id the same way;
* the event id is ``twilio:<CallSid>:<SequenceNumber>``: Twilio numbers the callbacks of a call
  from 0, so a redelivery carries the same id and is stored once. A callback without a sequence
  number (only ``completed`` is sent when no events are subscribed) uses its ``CallStatus``.

The signature is checked with the standard library (:func:`compute_signature`), following the
official helper library's ``RequestValidator`` exactly; the tests prove the two agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlparse

from calltrail.adapters.base import AuthKind, Credentials, Domain, HookRequest, Translation
from calltrail.adapters.telephony_common import (
    check_clean,
    check_instant,
    decode_text,
    fail,
    is_digits,
    stable_uuid,
    status_event,
)
from calltrail.kernel.errors import HookUnauthorized, InvalidRequest

#: The fixed namespace of :func:`call_uuid`. Never change it: stored calls are keyed by it.
NAMESPACE = uuid.UUID("149258d6-fe4c-4a31-9147-294ab3153f5a")
SIGNATURE_HEADER = "x-twilio-signature"
#: Present when a Twilio Webhooks Rule signs with a SharedKey: ``key=<id>,algorithm=HMAC_SHA256``.
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
HASHES: dict[str, Callable[[], Any]] = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
PROGRESS_SOURCE = "call-progress-events"

#: Twilio ``CallStatus`` -> Bird status.
STATUSES = {
    "queued": "accepted",
    "initiated": "starting",
    "ringing": "ringing",
    "in-progress": "ongoing",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "canceled": "cancelled",
    "failed": "failed",
}
#: Twilio ``Direction`` -> Bird direction. Elastic SIP Trunking legs are named from the trunk's
#: side: ``trunking-originating`` comes in from the phone network, ``-terminating`` goes out to it.
DIRECTIONS = {
    "inbound": "incoming",
    "outbound-api": "outgoing",
    "outbound-dial": "outgoing",
    "trunking-originating": "incoming",
    "trunking-terminating": "outgoing",
}

Params = dict[str, list[str]]


def call_uuid(call_sid: str) -> str:
    """The Calltrail call id of a Twilio ``CallSid`` (``uuid5`` in :data:`NAMESPACE`)."""
    return stable_uuid(NAMESPACE, call_sid)


def form_params(body: bytes) -> Params:
    """The POST parameters, each name with all its values in order (blank values kept: Twilio
    signs them too)."""
    params: Params = {}
    try:
        pairs = parse_qsl(decode_text(body), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        fail("body", "must percent-encode UTF-8 text")
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def signed_text(url: str, params: Mapping[str, list[str]]) -> str:
    """What Twilio signs: the URL, then each parameter name (sorted) immediately followed by its
    value. A repeated name contributes each distinct value once, in sorted order, as the official
    ``RequestValidator`` does."""
    return url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))


def compute_signature(token: str, url: str, params: Mapping[str, list[str]], algorithm: str = "HMAC_SHA1") -> str:
    """The base64 HMAC of :func:`signed_text` keyed with the auth token."""
    digest = hmac.new(token.encode(), signed_text(url, params).encode(), HASHES[algorithm]).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL without and with its port: Twilio is not consistent about signing the default port,
    so its own validator accepts either form, and so does Calltrail."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        return [url]
    if port is None:
        default = 443 if parsed.scheme == "https" else 80
        return [parsed.geturl(), parsed._replace(netloc=f"{parsed.netloc}:{default}").geturl()]
    # The library cuts the netloc at its first ':'; cutting at the last one gives the same result
    # for every ordinary URL and keeps user:password@ and [IPv6] hosts intact.
    return [parsed._replace(netloc=parsed.netloc.rsplit(":", 1)[0]).geturl(), parsed.geturl()]


def signature_algorithm(settings: str | None) -> str:
    """The algorithm named by ``X-Twilio-Webhooks-Signature-Settings``; HMAC-SHA1 without it."""
    for part in (settings or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def is_valid(request: HookRequest, token: str) -> bool:
    """True when ``X-Twilio-Signature`` matches the request signed with ``token``."""
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    algorithm = signature_algorithm(request.headers.get(SETTINGS_HEADER))
    if not signature or algorithm not in HASHES:
        return False
    params = form_params(request.body)
    given = signature.encode()
    return any(
        hmac.compare_digest(compute_signature(token, url, params, algorithm).encode(), given)
        for url in url_variants(request.url)
    )


def parse_timestamp(text: str) -> int:
    """``Timestamp`` (RFC 2822, ``Mon, 16 Aug 2010 03:45:01 +0000``) as epoch milliseconds; a
    zone of ``-0000`` ("UTC, source zone unknown") reads as UTC."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        fail("Timestamp", "must be an RFC 2822 date-time, e.g. Mon, 16 Aug 2010 03:45:01 +0000")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return check_instant(round(moment.timestamp() * 1000), "Timestamp")


def address_type(address: str) -> str:
    """Bird's number type of a Twilio address: ``client:`` identities are WebRTC (Voice SDK)
    clients, ``sip:`` URIs SIP endpoints, anything else a phone number."""
    lowered = address.lower()
    if lowered.startswith("client:"):
        return "webrtc"
    return "sip" if lowered.startswith("sip:") else "pstn"


def call_type(from_: str, to: str) -> str:
    """The call's type: ``webrtc`` if either party is a client, else ``sip`` if either is a SIP
    URI, else ``pstn``."""
    types = {address_type(from_), address_type(to)}
    return next(kind for kind in ("webrtc", "sip", "pstn") if kind in types)


class _Form:
    """Read access to one callback's parameters: the first value of each, blank meaning absent."""

    def __init__(self, params: Params):
        self.params = params

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return (values[0].strip() or None) if values else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            fail(name, "is required in a call progress callback")
        return value


def _party(form: _Form, address: str, side: str) -> dict[str, Any]:
    """``originator``/``receiver``: the address, its type, and what Twilio adds about it."""
    number: dict[str, Any] = {"type": address_type(address), "number": address}
    country = form.get(f"{side}Country")
    if country:
        number["countryIsoCode"] = country
    if side == "From" and form.get("CallerName"):
        number["callerIdName"] = form.get("CallerName")
    return {"number": number}


def _record_fields(form: _Form) -> dict[str, Any]:
    """The record fields one callback carries (every callback names the parties)."""
    direction = form.required("Direction")
    if direction not in DIRECTIONS:
        fail("Direction", f"must be one of {', '.join(DIRECTIONS)}")
    from_, to = form.required("From"), form.required("To")
    fields: dict[str, Any] = {
        "direction": DIRECTIONS[direction],
        "type": call_type(from_, to),
        "from": from_,
        "to": to,
        "originator": _party(form, from_, "From"),
        "receiver": _party(form, to, "To"),
    }
    parent = form.get("ParentCallSid")
    if parent:
        fields["parentId"] = call_uuid(parent)
    return fields | _outcome_fields(form)


def _outcome_fields(form: _Form) -> dict[str, Any]:
    """What a final callback adds: the answered duration, the SIP code, the AMD verdict."""
    fields: dict[str, Any] = {}
    duration = form.get("CallDuration")
    if duration is not None:
        if not is_digits(duration):
            fail("CallDuration", "must be a whole number of seconds")
        fields["duration"] = int(duration)
    sip_code = form.get("SipResponseCode")
    if sip_code:
        # Bird's records show the final SIP code inside sipInsights (spec file 004), as a string.
        fields["sipInsights"] = {"hangupSipCode": sip_code}
    answered_by = form.get("AnsweredBy")
    if answered_by:
        fields["amdResult"] = {"result": answered_by}
    return fields


def translate_params(params: Params) -> Translation:
    """The status event one callback means; other Twilio callbacks are counted as ignored."""
    form = _Form(params)
    source = form.get("CallbackSource")
    status = STATUSES.get(form.get("CallStatus") or "")
    if (source is not None and source != PROGRESS_SOURCE) or status is None:
        return Translation(events=[], ignored=1)
    call_sid = form.required("CallSid")
    check_clean(call_sid, "CallSid")  # it becomes part of the event id
    at_ms = parse_timestamp(form.required("Timestamp"))
    sequence = form.get("SequenceNumber") or form.required("CallStatus")
    event = status_event(f"twilio:{call_sid}:{sequence}", call_uuid(call_sid), status, at_ms, _record_fields(form))
    return Translation(events=[event])


class TwilioAdapter:
    """Twilio status callbacks, authenticated by their signature."""

    provider: str = "twilio"
    domain: Domain = "voice"
    auth: AuthKind = "signature"

    def verify(self, request: HookRequest, credentials: Credentials) -> None:
        """Accept only a callback signed with the account's auth token (``Credentials.secret``)
        over ``request.url`` and the POST parameters."""
        if not credentials.secret:
            raise HookUnauthorized()
        try:
            valid = is_valid(request, credentials.secret)
        except InvalidRequest:  # a body that cannot be read cannot carry a valid signature
            valid = False
        if not valid:
            raise HookUnauthorized()

    def translate(self, request: HookRequest) -> Translation:
        """One status event per call progress callback."""
        if request.content_type == "application/json":
            fail("body", "must be application/x-www-form-urlencoded, as Twilio sends status callbacks")
        return translate_params(form_params(request.body))


ADAPTER = TwilioAdapter()
