"""The Kamailio adapter: dialog reports of contrib/kamailio/kamailio.cfg as Bird status events.

Two parts:

* pure tests of :mod:`calltrail.adapters.kamailio` on fixtures of every report (the payloads in
  ``tests/fixtures/kamailio`` are as Kamailio 5.6 sent them in the real-traffic test);
* a real-traffic test: Debian's Kamailio runs the shipped configuration, SIPp user agents place
  calls through it (answered and hung up by either side, busy, cancelled, declined), and what
  Kamailio POSTs to a local receiver is translated, validated and folded into call records.
  Needs ``kamailio``, ``kamailio-utils-modules`` and ``sip-tester`` (``scripts/install-sip``):
  without them the test is skipped locally, and fails when ``CI`` is set.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calltrail.adapters.base import Adapter, HookRequest
from calltrail.adapters.kamailio import ADAPTER, CALL_NAMESPACE, call_uuid, event_id, failure_outcome
from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import parse_rfc3339
from calltrail.voice.events import parse_batch
from calltrail.voice.fold import fold

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "contrib" / "kamailio" / "kamailio.cfg"
SCENARIOS = Path(__file__).parent / "sipp"
FIXTURES = ROOT / "tests" / "fixtures" / "kamailio"
CHANNEL = "5d8e0c1a-9a4b-4f0e-8d51-3b0f6a2c7e19"
HOOK_URL = "https://calltrail.example.com/hooks/kamailio-test"

SIP_CALL_ID = "a84b4c76e66710@pc33.example.com"
T0 = 1709308800.0  # 2024-03-01T16:00:00Z


def report(event: str, at: float = 0.0, **members: Any) -> dict[str, Any]:
    """A report as contrib/kamailio/kamailio.cfg builds it, ``at`` seconds after T0."""
    base: dict[str, Any] = {
        "event": event,
        "eventId": f"{SIP_CALL_ID}:{event}",
        "time": T0 + at,
        "callId": SIP_CALL_ID,
        "fromUri": "sip:alice@example.com",
        "fromUser": "alice",
        "fromName": "Alice",
        "toUri": "sip:bob@192.0.2.7:5060",
        "toUser": "bob",
        "direction": "outgoing",
    }
    return base | members


def hook(body: dict[str, Any] | bytes) -> HookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HookRequest(url=HOOK_URL, headers={"content-type": "application/x-www-form-urlencoded"}, body=raw)


def translate(body: dict[str, Any] | bytes) -> list[dict[str, Any]]:
    return ADAPTER.translate(hook(body)).events


def record_of(events: list[dict[str, Any]], sip_call_id: str = SIP_CALL_ID) -> dict[str, Any] | None:
    """Validate the events as ``POST …/calls/events`` does, then fold them."""
    return fold(call_uuid(sip_call_id), CHANNEL, parse_batch(events, CHANNEL))


def invalid(body: dict[str, Any] | bytes) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        translate(body)
    return caught.value.details


ANSWERED_CALL = [
    report("dialog.start", 0.0),
    report("dialog.ringing", 0.4, sipCode=180),
    report("dialog.answered", 3.25, sipCode=200),
    report("dialog.end", 65.8, hangupBy="callee"),
]


# -- the contract --------------------------------------------------------------------------------


def test_the_adapter_is_the_kamailio_voice_provider_with_basic_auth() -> None:
    adapter: Adapter = ADAPTER
    assert (adapter.provider, adapter.domain, adapter.auth) == ("kamailio", "voice", "basic")


def test_a_call_is_its_sip_call_id_through_a_fixed_uuid5_namespace() -> None:
    # Pinned: a changed namespace would give every existing Kamailio call a new id.
    assert str(CALL_NAMESPACE) == "fe231012-0f56-4577-b3af-6202e5b50603"
    assert call_uuid(SIP_CALL_ID) == "ebd70133-04c2-530b-ac4b-981e1aa8c0fe"
    assert {event["callId"] for report_ in ANSWERED_CALL for event in translate(report_)} == {call_uuid(SIP_CALL_ID)}


def test_event_ids_come_from_the_report_and_stay_within_255_characters() -> None:
    assert [event["id"] for event in translate(report("dialog.start"))] == [f"kamailio:{SIP_CALL_ID}:dialog.start"]
    assert translate(report("dialog.start")) == translate(report("dialog.start"))
    without = {key: value for key, value in report("dialog.start").items() if key != "eventId"}
    assert translate(without)[0]["id"] == f"kamailio:{SIP_CALL_ID}:dialog.start"
    long_id = event_id("x" * 300)
    assert len(long_id) <= 255 and long_id.startswith("kamailio:sha256:")
    assert long_id == event_id("x" * 300) != event_id("x" * 301)


# -- each report ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "status"),
    [("dialog.start", "starting"), ("dialog.ringing", "ringing"), ("dialog.answered", "ongoing")],
)
def test_progress_reports_become_their_status(event: str, status: str) -> None:
    (translated,) = translate(report(event, 1.5, sipCode=180))
    assert translated == {
        "id": f"kamailio:{SIP_CALL_ID}:{event}",
        "callId": call_uuid(SIP_CALL_ID),
        "at": "2024-03-01T16:00:01.5Z",
        "status": status,
        "direction": "outgoing",
        "type": "sip",
        "from": "alice",
        "to": "bob",
        "originator": {"number": {"type": "sip", "number": "sip:alice@example.com", "callerIdName": "Alice"}},
        "receiver": {"number": {"type": "sip", "number": "sip:bob@192.0.2.7:5060"}},
        "sipInsights": {"sipCallId": SIP_CALL_ID},
    }


@pytest.mark.parametrize("by", ["caller", "callee", "timeout"])
def test_an_ended_dialog_is_completed_with_who_hung_up(by: str) -> None:
    (translated,) = translate(report("dialog.end", 9, hangupBy=by))
    assert translated["status"] == "completed"
    assert translated["hangupSource"] == by
    assert (translated["hangupCauseCode"], translated["hangupSipCode"]) == (16, "200")
    assert translated["sipInsights"] == {"sipCallId": SIP_CALL_ID, "hangupSipCode": "200"}


@pytest.mark.parametrize(
    ("code", "reason", "status", "source", "cause"),
    [
        (486, "Busy Here", "busy", "callee", 17),
        (600, "Busy Everywhere", "busy", "callee", 17),
        (603, "Decline", "busy", "callee", 21),
        (408, "Request Timeout", "no-answer", "timeout", 102),
        (480, "Temporarily Unavailable", "no-answer", "none", 18),
        (487, "Request Terminated", "cancelled", "caller", None),
        (404, "Not Found", "failed", "none", 1),
        (503, "Service Unavailable", "failed", "none", 41),
        (488, "Not Acceptable Here", "failed", "none", None),
        (302, "Moved Temporarily", "failed", "none", None),
    ],
)
def test_a_failed_dialog_gets_a_status_from_its_sip_code(
    code: int, reason: str, status: str, source: str, cause: int | None
) -> None:
    assert failure_outcome(code) == (status, source)
    (translated,) = translate(report("dialog.failed", 2, sipCode=code, reason=reason))
    assert (translated["status"], translated["hangupSource"]) == (status, source)
    assert translated["hangupSipCode"] == translated["sipInsights"]["hangupSipCode"] == str(code)
    assert translated["reason"] == reason
    assert translated.get("hangupCauseCode") == cause


def test_direction_defaults_to_outgoing_and_can_be_incoming() -> None:
    assert translate(report("dialog.start", direction="incoming"))[0]["direction"] == "incoming"
    without = {key: value for key, value in report("dialog.start").items() if key != "direction"}
    assert translate(without)[0]["direction"] == "outgoing"


def test_parties_without_a_user_part_or_name_show_their_uri() -> None:
    (translated,) = translate(report("dialog.start", fromUser="", fromName="", toUser=""))
    assert (translated["from"], translated["to"]) == ("sip:alice@example.com", "sip:bob@192.0.2.7:5060")
    assert translated["originator"] == {"number": {"type": "sip", "number": "sip:alice@example.com"}}


def test_unknown_reports_are_ignored_and_unknown_members_too() -> None:
    translation = ADAPTER.translate(hook(report("dialog.early-media")))
    assert (translation.events, translation.ignored) == ([], 1)
    assert translate(report("dialog.start", proxy="edge-1")) == translate(report("dialog.start"))


def test_escaped_and_non_ascii_values_survive() -> None:
    call_id = 'odd"call\\id'
    body = report("dialog.start", callId=call_id, eventId=f"{call_id}:dialog.start", fromName='Zoë "Z" Ürün')
    (translated,) = translate(body)
    assert translated["callId"] == call_uuid(call_id)
    assert translated["originator"]["number"]["callerIdName"] == 'Zoë "Z" Ürün'


def test_bytes_that_are_not_utf8_do_not_lose_the_report() -> None:
    raw = json.dumps(report("dialog.start", fromName="NAME")).encode().replace(b"NAME", b"Jos\xe9")
    assert translate(raw)[0]["originator"]["number"]["callerIdName"] == "Jos\ufffd"


# -- malformed payloads --------------------------------------------------------------------------


def test_a_truncated_body_names_the_body() -> None:
    raw = json.dumps(report("dialog.start")).encode()
    assert list(invalid(raw[: len(raw) // 2])) == ["body"]
    assert list(invalid(b"")) == ["body"]


@pytest.mark.parametrize("body", [[report("dialog.start")], "dialog.start", 42, None])
def test_a_body_that_is_not_one_object_names_the_body(body: Any) -> None:
    assert list(invalid(json.dumps(body).encode())) == ["body"]


def test_a_report_without_an_event_names_event() -> None:
    body = report("dialog.start")
    del body["event"]
    assert list(invalid(body)) == ["event"]
    assert list(invalid(report(""))) == ["event"]


def test_every_missing_or_wrong_member_is_named_at_once() -> None:
    details = invalid({"event": "dialog.start", "time": "yesterday", "fromUri": 7, "direction": "sideways"})
    assert set(details) == {"callId", "time", "fromUri", "toUri", "direction"}


@pytest.mark.parametrize("code", [None, "486", 200, 700, True])
def test_a_failed_report_needs_a_final_negative_sip_code(code: Any) -> None:
    body = report("dialog.failed", reason="Busy Here")
    if code is not None:
        body["sipCode"] = code
    assert list(invalid(body)) == ["sipCode"]


@pytest.mark.parametrize("by", [None, "operator"])
def test_an_end_report_needs_who_hung_up(by: str | None) -> None:
    body = report("dialog.end") | ({"hangupBy": by} if by else {})
    assert list(invalid(body)) == ["hangupBy"]


def test_control_characters_are_refused() -> None:
    assert list(invalid(report("dialog.start", fromName="Ali\u0001ce"))) == ["fromName"]


def test_over_long_members_are_refused_rather_than_stored_cut() -> None:
    assert list(invalid(report("dialog.start", fromUri="sip:" + "a" * 300 + "@example.com"))) == ["fromUri"]
    assert list(invalid(report("dialog.failed", sipCode=480, reason="x" * 1025))) == ["reason"]


# -- folded records ------------------------------------------------------------------------------


def answered_events() -> list[dict[str, Any]]:
    return [event for body in ANSWERED_CALL for event in translate(body)]


def test_an_answered_call_folds_into_a_bird_record() -> None:
    assert record_of(answered_events()) == {
        "id": call_uuid(SIP_CALL_ID),
        "channelId": CHANNEL,
        "originator": {"number": {"type": "sip", "number": "sip:alice@example.com", "callerIdName": "Alice"}},
        "receiver": {"number": {"type": "sip", "number": "sip:bob@192.0.2.7:5060"}},
        "from": "alice",
        "to": "bob",
        "direction": "outgoing",
        "status": "completed",
        "type": "sip",
        "duration": 63,  # 65.8 - 3.25 = 62.55 s, rounded half up
        "hangupCauseCode": 16,
        "hangupSource": "callee",
        "hangupSipCode": "200",
        "sipInsights": {"sipCallId": SIP_CALL_ID, "hangupSipCode": "200"},
        "createdAt": "2024-03-01T16:00:00Z",
        "updatedAt": "2024-03-01T16:01:05.8Z",
        "ringingAt": "2024-03-01T16:00:00.4Z",
        "answeredAt": "2024-03-01T16:00:03.25Z",
        "endedAt": "2024-03-01T16:01:05.8Z",
    }


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(4)), st.lists(st.integers(0, 3), max_size=4))
def test_shuffled_and_redelivered_reports_fold_into_the_same_record(order: list[int], again: list[int]) -> None:
    events = answered_events()
    assert record_of([events[i] for i in [*order, *again]]) == record_of(events)


def test_a_cancelled_call_is_cancelled_by_the_caller_with_no_duration() -> None:
    bodies = [
        report("dialog.start", 0),
        report("dialog.ringing", 0.2, sipCode=180),
        report("dialog.failed", 4, sipCode=487, reason="Request Terminated"),
    ]
    record = record_of([event for body in bodies for event in translate(body)])
    assert record is not None
    assert (record["status"], record["hangupSource"], record["hangupSipCode"]) == ("cancelled", "caller", "487")
    assert (record["duration"], record["endedAt"]) == (0, "2024-03-01T16:00:04Z")


# -- real traffic: Kamailio and SIPp -------------------------------------------------------------

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
HOOK_USER, HOOK_PASSWORD = "kamailio-hook", "s3cret:with-colon"
#: How long SIPp holds an answered call before the hang-up (``-d``), in milliseconds.
HOLD_MS = 1000


def _require_tools() -> None:
    modules = Path("/usr/lib").glob("*/kamailio/modules/http_client.so")  # per architecture
    missing = [
        what
        for what, ok in (
            ("kamailio", Path(KAMAILIO).exists()),
            ("kamailio-utils-modules (http_client)", any(modules)),
            ("sip-tester (sipp)", Path(SIPP).exists()),
        )
        if not ok
    ]
    if missing:
        message = f"Kamailio test needs {', '.join(missing)}: run scripts/install-sip"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Receiver:
    """A stand-in for Calltrail's hook endpoint: checks Basic auth and records each POST.

    The first POST is answered 503, to see Kamailio's delivery retry it."""

    url: str = ""
    posts: list[HookRequest] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unavailable_once: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: BaseHTTPRequestHandler) -> int:
        length = int(request.headers.get("Content-Length", "0"))
        body = request.rfile.read(length)
        expected = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
        with self.lock:
            if request.headers.get("Authorization") != expected:
                self.refused.append(request.headers.get("Authorization", ""))
                return 401
            if self.unavailable_once:
                self.unavailable_once = False
                return 503
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.posts.append(HookRequest(url=self.url, headers=headers, body=body))
            return 200

    def wait_for(self, count: int, timeout: float) -> list[HookRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.05)
        with self.lock:
            return list(self.posts)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status = state.handle(self)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/test"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started (Kamailio's children die with their main process),
    then SIGKILL what is left after 5 seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _sip_ping(port: int, timeout: float) -> bool:
    """True once a SIP OPTIONS to the proxy itself gets a 200."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        local = sock.getsockname()[1]
        ping = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-ping{local}\r\n"
            f"From: <sip:ping@127.0.0.1>;tag=ping\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: ping-{local}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        while time.monotonic() < deadline:
            sock.sendto(ping, ("127.0.0.1", port))
            try:
                if sock.recv(4096).startswith(b"SIP/2.0 200"):
                    return True
            except TimeoutError:
                continue
    return False


@dataclass
class Proxy:
    port: int
    log: Path


@contextlib.contextmanager
def running_kamailio(workdir: Path, hook_url: str, hook_auth: str) -> Iterator[Proxy]:
    """Kamailio with the shipped configuration, reporting to ``hook_url`` with Basic ``user:password``."""
    _require_tools()
    port = _free_port(socket.SOCK_DGRAM)
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "KAMAILIO_LISTEN": f"udp:127.0.0.1:{port}",
        "CALLTRAIL_HOOK_URL": hook_url,
        "CALLTRAIL_HOOK_AUTH": hook_auth,
    }
    rundir = workdir / "kamailio"
    rundir.mkdir()
    log = workdir / "kamailio.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # One UDP worker (-n 1): with several, Kamailio may relay a 180 after the 200 of the same
            # call, which real phones ignore but SIPp's strict scenarios treat as a failed call.
            [KAMAILIO, "-DD", "-E", "-n", "1", "-f", str(CONFIG), "-Y", str(rundir), "-w", str(rundir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if not _sip_ping(port, timeout=15):
            _stop(process)
            pytest.fail(f"Kamailio did not answer on port {port}:\n{log.read_text(errors='replace')[-4000:]}")
        yield Proxy(port=port, log=log)
    finally:
        _stop(process)


@pytest.fixture
def kamailio(receiver: Receiver, tmp_path: Path) -> Iterator[Proxy]:
    with running_kamailio(tmp_path, receiver.url, f"{HOOK_USER}:{HOOK_PASSWORD}") as proxy:
        yield proxy


@dataclass(frozen=True)
class Scenario:
    """One call: the callee's SIPp scenario behind the proxy, the caller's through it."""

    callee: str  # the called user (SIPp's -s), which tells the records apart
    uas: str
    uac: str
    hold_ms: int | None = None  # -d: how long the hanging-up side holds the answered call
    uas_holds: bool = False
    caller_name: str = "Alice"
    call_id_format: str = "%u-%p@%s"  # SIPp's -cid_str


#: A display name and a Call-ID with the characters JSON must escape (and a non-ASCII letter), to
#: see the configuration's escaping keep them intact and unable to forge members.
ODD_NAME = 'Zoë "Z" O\'Neil\\'
ODD_CALL_ID = '%u-%p@%s/"odd"\\id'

#: start, ringing, answered, end; start, failed; start, ringing, failed.
EXPECTED_POSTS = 4 + 4 + 2 + 3 + 3

SCENARIOS_RUN = (
    Scenario(
        "caller-hangs-up",
        "uas_answer.xml",
        "uac_caller_bye.xml",
        hold_ms=HOLD_MS,
        caller_name=ODD_NAME,
        call_id_format=ODD_CALL_ID,
    ),
    Scenario("callee-hangs-up", "uas_callee_bye.xml", "uac_callee_bye.xml", hold_ms=HOLD_MS, uas_holds=True),
    Scenario("busy", "uas_busy.xml", "uac_rejected.xml"),
    Scenario("cancelled", "uas_ringing.xml", "uac_cancel.xml", hold_ms=500),
    Scenario("declined", "uas_decline.xml", "uac_rejected.xml"),
)


def _quoted_string(text: str) -> str:
    """A SIP quoted-string (RFC 3261): a backslash before '"' and '\\'."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sipp(scenario_file: str, workdir: Path, *options: str) -> list[str]:
    """A SIPp command for one call on 127.0.0.1 and a free port, bounded to 20 s."""
    port = str(_free_port(socket.SOCK_DGRAM))
    errors = str(workdir / f"{scenario_file}-{port}-errors.log")
    common = ["-i", "127.0.0.1", "-p", port, "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"]
    return [SIPP, *options, "-sf", str(SCENARIOS / scenario_file), *common, "-trace_err", "-error_file", errors]


def _callee_command(scenario: Scenario, workdir: Path) -> tuple[list[str], str]:
    """The callee's SIPp command and the port it listens on."""
    hold = ["-d", str(scenario.hold_ms)] if scenario.uas_holds and scenario.hold_ms else []
    command = _sipp(scenario.uas, workdir, *hold)
    return command, command[command.index("-p") + 1]


def _caller_command(scenario: Scenario, callee_port: str, proxy: Proxy, workdir: Path) -> list[str]:
    """The caller's SIPp command: the INVITE is addressed to the callee, sent to the proxy."""
    hold = ["-d", str(scenario.hold_ms)] if scenario.hold_ms and not scenario.uas_holds else []
    return _sipp(
        scenario.uac,
        workdir,
        f"127.0.0.1:{callee_port}",
        *("-rsa", f"127.0.0.1:{proxy.port}", "-s", scenario.callee, *hold),
        *("-key", "caller_name", _quoted_string(scenario.caller_name), "-cid_str", scenario.call_id_format),
    )


def _sipp_errors(workdir: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in workdir.glob("*errors.log"))[-4000:]


def _place_calls(proxy: Proxy, workdir: Path) -> None:
    """Start every callee, then place each call in turn; fail with SIPp's errors if one fails."""
    callees: list[tuple[Scenario, str, subprocess.Popen[bytes]]] = []
    try:
        for scenario in SCENARIOS_RUN:
            command, port = _callee_command(scenario, workdir)
            process = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            callees.append((scenario, port, process))
        time.sleep(0.3)  # let the callees bind; an INVITE sent earlier would be retransmitted anyway
        for scenario, port, _ in callees:
            command = _caller_command(scenario, port, proxy, workdir)
            caller = subprocess.run(command, cwd=workdir, capture_output=True, timeout=30, check=False)
            if caller.returncode != 0:
                pytest.fail(f"SIPp call {scenario.callee} failed ({caller.returncode}):\n{_sipp_errors(workdir)}")
        for scenario, _, process in callees:
            if process.wait(timeout=20) != 0:
                pytest.fail(f"SIPp callee of {scenario.callee} failed ({process.returncode}):\n{_sipp_errors(workdir)}")
    finally:
        for _, _, process in callees:
            _stop(process)


def records_by_callee(posts: list[HookRequest]) -> dict[str, dict[str, Any]]:
    """Each call's record, by called user, from the POSTs Kamailio made; checks on the way that
    the reports of each call, shuffled and with a redelivery, fold into the same record."""
    by_call: dict[str, list[dict[str, Any]]] = {}
    for post in posts:
        for event in ADAPTER.translate(post).events:
            by_call.setdefault(event["callId"], []).append(event)
    records: dict[str, dict[str, Any]] = {}
    for call_id, events in by_call.items():
        record = fold(call_id, CHANNEL, parse_batch(events, CHANNEL))
        assert record is not None
        shuffled = random.Random(call_id).sample(events, len(events)) + events[:1]
        assert fold(call_id, CHANNEL, parse_batch(shuffled, CHANNEL)) == record
        records[record["to"]] = record
    return records


def _ms(record: dict[str, Any], key: str) -> int:
    """A record's timestamp as epoch ms (Bird trims trailing zeros, so strings do not sort)."""
    return parse_rfc3339(record[key])


def check_records(records: dict[str, dict[str, Any]]) -> None:
    """What the five SIPp calls must look like in Calltrail."""
    assert sorted(records) == sorted(scenario.callee for scenario in SCENARIOS_RUN)
    for record in records.values():
        assert (record["direction"], record["type"], record["from"]) == ("outgoing", "sip", "alice")
        odd = record["to"] == "caller-hangs-up"
        assert record["originator"]["number"]["callerIdName"] == (ODD_NAME if odd else "Alice")
        assert record["sipInsights"]["sipCallId"].endswith('/"odd"\\id') == odd
        assert record["receiver"]["number"]["number"].startswith(f"sip:{record['to']}@127.0.0.1:")
        assert _ms(record, "createdAt") <= _ms(record, "endedAt")

    for callee, source in (("caller-hangs-up", "caller"), ("callee-hangs-up", "callee")):
        record = records[callee]
        assert (record["status"], record["hangupSource"], record["hangupSipCode"]) == ("completed", source, "200")
        assert abs(record["duration"] - HOLD_MS / 1000) <= 1
        assert _ms(record, "ringingAt") <= _ms(record, "answeredAt") < _ms(record, "endedAt")
    expected_failures = {
        "busy": ("busy", "486", "callee", "Busy Here"),
        "cancelled": ("cancelled", "487", "caller", "Request Terminated"),
        "declined": ("busy", "603", "callee", "Decline"),
    }
    for callee, (status, code, source, reason) in expected_failures.items():
        record = records[callee]
        assert (record["status"], record["hangupSipCode"], record["hangupSource"]) == (status, code, source)
        assert (record["reason"], record["duration"]) == (reason, 0)
    assert "ringingAt" in records["cancelled"] and "ringingAt" not in records["busy"]


def test_reports_recorded_from_kamailio_fold_into_the_expected_records() -> None:
    """The payloads of tests/fixtures/kamailio, as Kamailio 5.6 POSTed them in the test below."""
    posts = [hook(body) for path in sorted(FIXTURES.glob("*.json")) for body in json.loads(path.read_text())]
    assert len(posts) == EXPECTED_POSTS
    check_records(records_by_callee(posts))


@pytest.mark.e2e
@pytest.mark.slow
def test_kamailio_reports_real_sip_calls(kamailio: Proxy, receiver: Receiver, tmp_path: Path) -> None:
    started = time.monotonic()
    _place_calls(kamailio, tmp_path)
    posts = receiver.wait_for(EXPECTED_POSTS, timeout=15)
    log = kamailio.log.read_text(errors="replace")
    assert len(posts) == EXPECTED_POSTS, f"{len(posts)} reports; Kamailio's log:\n{log[-4000:]}"
    assert receiver.refused == []
    assert "delivery failed (503)" in log  # the first POST was refused with 503, then retried
    check_records(records_by_callee(posts))
    assert time.monotonic() - started < 45
