"""Realistic, deterministic telephony calls for one channel, expressed as status events.

Pure: no I/O. :func:`generate_calls` yields, call by call, the status events ``POST
.../channels/{channelId}/calls/events`` accepts; the CLI feeds them through the same validation
and ingestion pipeline as any client's. The same channel, seed, count and end date always give
the same events (and call ids), and different channels never share a call id.

What the calls look like: the channel is a Dutch number. Calls are incoming and outgoing over
PSTN, SIP trunks and WebRTC clients, to and from numbers in a handful of countries; they
complete, ring out, find the line busy, fail, or are cancelled, with Q.850 hangup causes and SIP
codes that fit each outcome, post-dial delay and MOS figures, IVR call flows (some of which
answer calls nobody then takes, as spec file 004's ``no-answer`` calls with an ``answeredAt``
show), tags, answering-machine detection on outbound calls, and forwarded calls whose outbound
leg names its inbound parent (``parentId``). The newest calls are still in progress, covering
``accepted``, ``scheduled``, ``starting``, ``ringing`` and ``ongoing``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from calltrail.kernel.instants import format_rfc3339, parse_rfc3339

DEFAULT_END = "2026-11-01T00:00:00Z"
DEFAULT_SPAN_DAYS = 180
LIVE_STATUSES = ("accepted", "scheduled", "starting", "ringing", "ongoing")
TAGS = ("sales", "support", "vip", "follow-up", "billing", "escalation", "callback")
#: (country, calling code, national digits, share of mobiles)
COUNTRIES = (
    ("NL", "31", 9, 0.6),
    ("PT", "351", 9, 0.7),
    ("DE", "49", 10, 0.5),
    ("GB", "44", 10, 0.6),
    ("US", "1", 10, 0.5),
    ("ES", "34", 9, 0.6),
    ("FR", "33", 9, 0.6),
    ("BE", "32", 9, 0.5),
)
NAMES = ("Jose G", "Anna de Vries", "Liam Murphy", "Sofia Costa", "Jonas Weber", "Emma Martin", "Lucas Peeters")
PROVIDERS = ("Test-MB-VPN", "KPN Wholesale", "Vodafone NL", "Telnyx EU", "BICS")
EDGE_REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")
#: Outcome -> (share of finished calls, Q.850 cause, SIP code)
OUTCOMES = {
    "completed": (0.64, 16, "200"),
    "no-answer": (0.14, 19, "480"),
    "busy": (0.07, 17, "486"),
    "failed": (0.08, 0, ""),
    "cancelled": (0.07, 487, "487"),  # FreeSWITCH's ORIGINATOR_CANCEL (487) for a caller hang-up
}
FAILURES = (
    (1, "404", "unallocated number"),
    (34, "503", "no circuit available"),
    (38, "502", "network out of order"),
    (41, "503", "temporary failure"),
    (127, "500", "interworking, unspecified"),
)


@dataclass(frozen=True)
class Party:
    """An external party: its E.164 number and how Bird describes it."""

    number: str
    country: str
    kind: str
    name: str | None
    contact_id: str | None


@dataclass
class _Call:
    """Builds one call's status events."""

    call_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, status: str, at: float, **fields: Any) -> None:
        event = {"id": f"{self.call_id}:{len(self.events)}", "callId": self.call_id, "status": status}
        event["at"] = format_rfc3339(round(at * 1000))
        event.update(fields)
        self.events.append(event)

    def command(self, flow: str, name: str) -> dict[str, Any]:
        return {"id": flow, "commands": [{"command": name, "status": "accepted", "callFlowId": flow}]}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _parties(rng: random.Random, count: int = 2000) -> list[Party]:
    parties = []
    for _ in range(count):
        country, code, digits, mobiles = rng.choice(COUNTRIES)
        national = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
        kind = "mobile" if rng.random() < mobiles else "landline"
        name = rng.choice(NAMES) if rng.random() < 0.3 else None
        contact = _uuid(rng) if rng.random() < 0.4 else None
        parties.append(Party(f"+{code}{national}", country, kind, name, contact))
    return parties


def _number(party: Party, *, plus: bool = True) -> dict[str, Any]:
    number: dict[str, Any] = {"type": "pstn", "number": party.number if plus else party.number[1:]}
    if party.name:
        number["callerIdName"] = party.name
    number["countryIsoCode"] = party.country
    number["pstnNumberType"] = party.kind
    return number


def _side(party: Party, *, plus: bool = True) -> dict[str, Any]:
    side: dict[str, Any] = {}
    if party.contact_id:
        side["contact"] = {"id": party.contact_id, "identifierKey": "phonenumber", "identifierValue": party.number}
    side["number"] = _number(party, plus=plus)
    return side


def _outcome(rng: random.Random) -> str:
    roll = rng.random()
    for outcome, (share, _, _) in OUTCOMES.items():
        if roll < share:
            return outcome
        roll -= share
    return "completed"


def _identity(rng: random.Random, channel: Party, party: Party, direction: str, call_type: str) -> dict[str, Any]:
    """The fields that say who called whom, over what."""
    own = {"type": "pstn", "number": channel.number, "countryIsoCode": "NL", "pstnNumberType": "landline"}
    if call_type == "webrtc":
        client = _uuid(rng)
        originator = {
            "number": {"type": "webrtc", "number": client, "callerIdName": client, "identity": channel.number}
        }
        return {
            "originator": originator,
            "receiver": {"number": _number(party, plus=False)},
            "from": f"client:{client}",
            "to": party.number[1:],
        }
    if call_type == "sip":
        extension = f"sip:{rng.randint(100, 399)}@pbx.acme.example"
        trunk = {"number": {"type": "sip", "number": extension}}
        far = _side(party)
        caller, callee = (far, trunk) if direction == "incoming" else (trunk, far)
        from_, to = (party.number, extension) if direction == "incoming" else (extension, party.number)
        return {
            "originator": caller,
            "receiver": callee,
            "from": from_,
            "to": to,
            "sipType": rng.choice(("elastic", "byoc")),
        }
    if direction == "incoming":
        return {"originator": _side(party), "receiver": {"number": own}, "from": party.number, "to": channel.number}
    return {"originator": {"number": own}, "receiver": _side(party), "from": channel.number, "to": party.number}


def _insights(rng: random.Random, call_type: str, sip_code: str, answered: bool, pdd: float) -> dict[str, Any]:
    mos = f"{rng.uniform(3.4, 4.5):.2f}" if answered else "0.00"
    sip: dict[str, Any] = {"hangupSipCode": sip_code}
    if rng.random() < 0.6:
        sip["edgeRegion"] = rng.choice(EDGE_REGIONS)
    if call_type == "pstn" and rng.random() < 0.5:
        sip["providerName"] = rng.choice(PROVIDERS)
    elif call_type == "webrtc":
        sip["userAgent"] = "MessageBird webRTC 1.0"
    elif call_type == "sip":
        sip["remoteSignallingIp"] = f"203.0.113.{rng.randint(1, 254)}"
        sip["remoteMediaIp"] = f"198.51.100.{rng.randint(1, 254)}"
    return {"sipInsights": sip, "qualityInsights": {"mos": mos, "pdd": f"{pdd:.2f}"}}


def _finish(
    rng: random.Random,
    call: _Call,
    call_type: str,
    direction: str,
    outcome: str,
    times: dict[str, float],
    **fields: Any,
) -> None:
    """The terminal event, then a final update carrying the insights (so ``updatedAt`` comes
    just after ``endedAt``, as in the spec's examples)."""
    _, cause, sip_code = OUTCOMES[outcome]
    if outcome == "failed":
        cause, sip_code, reason = rng.choice(FAILURES)
        fields["reason"] = reason
    source = {
        "completed": rng.choice(("caller", "callee", "callee", "api")),
        "no-answer": rng.choice(("none", "timeout")),
        "busy": "callee",
        "failed": "none",
        "cancelled": "caller" if direction == "incoming" else "api",
    }[outcome]
    ended = times["ended"]
    call.add(outcome, ended, hangupCauseCode=cause, hangupSource=source, **fields)
    insights = _insights(rng, call_type, sip_code, outcome == "completed", times["pdd"])
    call.add(outcome, ended + rng.uniform(0.1, 0.4), **insights)


@dataclass(frozen=True)
class _Context:
    channel: Party
    parties: list[Party]
    agents: list[Party]


def _leg(rng: random.Random, ctx: _Context, parent: str, start: float, end: float) -> list[dict[str, Any]]:
    """The outbound leg of a forwarded call: it rings an agent and lasts until the parent ends."""
    leg = _Call(_uuid(rng))
    identity = _identity(rng, ctx.channel, rng.choice(ctx.agents), "outgoing", "pstn")
    leg.add("starting", start, direction="outgoing", type="pstn", parentId=parent, **identity)
    pdd = rng.uniform(0.5, 3)
    leg.add("ringing", start + pdd)
    leg.add("ongoing", start + pdd + rng.uniform(3, 9))
    _finish(rng, leg, "pstn", "outgoing", "completed", {"ended": end - rng.uniform(0, 0.5), "pdd": pdd})
    return leg.events


def _call(
    rng: random.Random, ctx: _Context, initiated: float, live: str | None, may_forward: bool
) -> list[list[dict[str, Any]]]:
    """One call's events (and its forwarded leg's, if it has one)."""
    call = _Call(_uuid(rng))
    direction = "incoming" if rng.random() < 0.6 else "outgoing"
    call_type = rng.choices(("pstn", "sip", "webrtc"), (0.7, 0.15, 0.15))[0]
    if live in ("accepted", "scheduled"):
        direction = "outgoing"  # only calls placed through the API are accepted or scheduled
    first: dict[str, Any] = {"direction": direction, "type": call_type}
    first.update(_identity(rng, ctx.channel, rng.choice(ctx.parties), direction, call_type))
    if rng.random() < 0.2:
        first["tags"] = rng.sample(TAGS, rng.randint(1, 2))
    if direction == "outgoing" and rng.random() < 0.5:
        first["notification"] = {"url": "https://hooks.acme.example/voice"}
    flow = _uuid(rng) if rng.random() < 0.5 else None
    outcome = live or _outcome(rng)
    at = initiated
    if direction == "outgoing":
        call.add("accepted", at, **first)
        first = {}
        if live == "accepted":
            return [call.events]
        if live == "scheduled" or rng.random() < 0.03:
            when = format_rfc3339(round((at + rng.uniform(600, 86400)) * 1000))
            call.add("scheduled", at + 0.05, scheduledFor=when)
            if live == "scheduled":
                return [call.events]
        at += rng.uniform(0.1, 0.6)
    call.add("starting", at, **first)
    if live == "starting":
        return [call.events]
    times = {"pdd": rng.uniform(0.5, 12.0)}
    if outcome in ("busy", "failed"):
        times["ended"] = at + rng.uniform(0.5, 4.0)
        _finish(rng, call, call_type, direction, outcome, times)
        return [call.events]
    ringing = at + times["pdd"]
    call.add("ringing", ringing, **({"callFlow": call.command(flow, "ringing")} if flow else {}))
    if live == "ringing":
        return [call.events]
    if outcome == "cancelled":
        times["ended"] = ringing + rng.uniform(2, 20)
        _finish(rng, call, call_type, direction, outcome, times)
        return [call.events]
    if outcome == "no-answer":
        if flow and rng.random() < 0.4:
            # An IVR answers and nobody takes the call: answeredAt is set, the outcome stays no-answer.
            call.add("ongoing", ringing + 0.2, callFlow=call.command(flow, "answer"))
        times["ended"] = ringing + rng.uniform(30, 60)
        _finish(rng, call, call_type, direction, outcome, times)
        return [call.events]
    answered = ringing + rng.uniform(3, 25)
    extra: dict[str, Any] = {"callFlow": call.command(flow, "answer")} if flow else {}
    if direction == "outgoing" and rng.random() < 0.2:
        extra["amdResult"] = {"result": "machine" if rng.random() < 0.25 else "human", "locale": "en-US"}
    call.add("ongoing", answered, **extra)
    if live == "ongoing":
        return [call.events]
    times["ended"] = answered + max(3.0, min(rng.lognormvariate(4.6, 1.0), 3 * 3600))
    groups = [call.events]
    long_enough = times["ended"] - answered > 30  # time for the agent's phone to ring and be answered
    if may_forward and long_enough and direction == "incoming" and call_type == "pstn" and rng.random() < 0.1:
        flow = flow or _uuid(rng)
        bridged = answered + rng.uniform(0.3, 1.0)
        call.add("ongoing", bridged, callFlow=call.command(flow, "bridge"))
        groups.append(_leg(rng, ctx, call.call_id, bridged + 0.1, times["ended"]))
    _finish(
        rng, call, call_type, direction, outcome, times, **({"callFlow": call.command(flow, "hangup")} if flow else {})
    )
    return groups


def generate_calls(
    channel_id: str,
    *,
    count: int,
    seed: int = 1,
    end: str = DEFAULT_END,
    span_days: int = DEFAULT_SPAN_DAYS,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the status events of ``count`` calls of ``channel_id``, oldest first, one call at a
    time (a forwarded call's outbound leg right after its parent)."""
    rng = random.Random(f"bird-calls-{seed}-{channel_id}")
    parties = _parties(random.Random(f"bird-world-{seed}"))
    channel = Party(f"+3197{rng.randint(10**8, 10**9 - 1)}", "NL", "landline", None, None)
    ctx = _Context(channel, parties, parties[:25])
    end_s = parse_rfc3339(end) / 1000
    start_s = end_s - span_days * 86400
    step = (end_s - start_s) / max(count, 1)
    # The newest calls are still in progress, cycling through every live status.
    live_from = count - max(len(LIVE_STATUSES), min(count // 200, 200))
    made = 0
    while made < count:
        initiated = start_s + (made + rng.random()) * step
        live = LIVE_STATUSES[made % len(LIVE_STATUSES)] if made >= live_from else None
        groups = _call(rng, ctx, initiated, live, may_forward=made + 2 <= live_from)
        yield from groups
        made += len(groups)
