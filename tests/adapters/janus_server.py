"""A real Janus for tests: a generated config folder, the process, its HTTP API, and a local
receiver for what its sample event handler (``janus.eventhandler.sampleevh``) POSTs.

Janus runs in the foreground from a temporary config folder (``janus -F <dir>``) with only what
the tests need: the HTTP transport on 127.0.0.1 and a free port, the VideoRoom and AudioBridge
plugins, and the sample event handler pointed at :class:`EventReceiver` with Basic auth. Every
other plugin, transport, logger and event handler found next to them is disabled, and no media
is involved (no ICE or NAT settings). Install Janus with ``scripts/install-janus``.

Every wait is bounded: startup, API calls, long polls and event delivery all time out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_NAME = "calltrail-test"
HOOK_PATH = "/hooks/janus-test"
#: The plugins the tests drive; everything else in the plugins folder is disabled.
PLUGINS = ("libjanus_videoroom.so", "libjanus_audiobridge.so")
TRANSPORTS = ("libjanus_http.so",)
EVENT_HANDLERS = ("libjanus_sampleevh.so",)
#: Where distributions put Janus' modules (Debian: /usr/lib/<multiarch>/janus).
MODULE_ROOTS = ("/usr/lib/*/janus", "/usr/lib/janus", "/usr/local/lib/janus", "/opt/janus/lib/janus")
STARTUP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 10.0
LONG_POLL_TIMEOUT = 35.0


def require_janus() -> str:
    """The janus binary; skips the test when Janus is missing, or fails it under CI."""
    binary = shutil.which("janus")
    root = module_root()
    if binary is None or root is None:
        message = "the real-Janus tests need Debian's janus package: run scripts/install-janus"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


def module_root() -> Path | None:
    """The folder holding Janus' ``plugins``, ``transports``, ``events`` and ``loggers``."""
    for pattern in MODULE_ROOTS:
        for root in sorted(Path("/").glob(pattern.lstrip("/"))):
            if (root / "plugins" / PLUGINS[0]).exists():
                return root
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the event receiver -------------------------------------------------------------------------


@dataclass
class Post:
    """One POST from the event handler, as received."""

    path: str
    authorized: bool
    content_type: str
    body: bytes


class EventReceiver:
    """A threaded HTTP server on 127.0.0.1 that records the event handler's POSTs.

    Requests without the expected Basic credentials are recorded too (``authorized=False``) and
    answered 401, so a test can assert that Janus sent the credentials it was configured with.
    """

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.posts: list[Post] = []
        self._changed = threading.Condition()
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                authorized = secrets.compare_digest(self.headers.get("Authorization", ""), expected)
                receiver._record(Post(self.path, authorized, self.headers.get("Content-Type", ""), body))
                self.send_response(200 if authorized else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{HOOK_PATH}"

    def __enter__(self) -> EventReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, post: Post) -> None:
        with self._changed:
            self.posts.append(post)
            self._changed.notify_all()

    def events(self) -> list[dict[str, Any]]:
        """Every event received so far, flattened (the handler groups them into arrays)."""
        with self._changed:
            return _flatten(self.posts)

    def bodies(self) -> list[bytes]:
        """The raw POST bodies received so far."""
        with self._changed:
            return [post.body for post in self.posts]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(events())`` holds; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(_flatten(self.posts)):
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"Janus' event handler did not send the expected events within {timeout}s")
                self._changed.wait(left)


def _flatten(posts: list[Post]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for post in posts:
        decoded = json.loads(post.body)
        flat.extend(decoded if isinstance(decoded, list) else [decoded])
    return flat


# --- the Janus process ----------------------------------------------------------------------------


def _disabled(folder: Path, keep: tuple[str, ...]) -> str:
    """The comma-separated ``disable`` list: every module in ``folder`` except ``keep``."""
    names = sorted(path.name for path in folder.glob("*.so") if path.name not in keep)
    return ",".join(names)


def write_configs(folder: Path, *, port: int, backend: str, user: str, password: str, session_timeout: int) -> None:
    """Generate the minimal config folder: core, HTTP transport, two plugins, sampleevh."""
    root = module_root()
    assert root is not None
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "janus.jcfg": f"""
general: {{
    configs_folder = "{folder}"
    plugins_folder = "{root / "plugins"}"
    transports_folder = "{root / "transports"}"
    events_folder = "{root / "events"}"
    loggers_folder = "{root / "loggers"}"
    debug_level = 4
    debug_colors = false
    server_name = "{SERVER_NAME}"
    session_timeout = {session_timeout}
}}
plugins: {{ disable = "{_disabled(root / "plugins", PLUGINS)}" }}
transports: {{ disable = "{_disabled(root / "transports", TRANSPORTS)}" }}
loggers: {{ disable = "{_disabled(root / "loggers", ())}" }}
events: {{
    broadcast = true
    disable = "{_disabled(root / "events", EVENT_HANDLERS)}"
    stats_period = 0
}}
""",
        "janus.transport.http.jcfg": f"""
general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{ admin_http = false }}
""",
        "janus.plugin.videoroom.jcfg": "general: { }\n",
        "janus.plugin.audiobridge.jcfg": "general: { }\n",
        # grouping sends whatever is queued at once (up to 100 events) as one JSON array, promptly.
        "janus.eventhandler.sampleevh.jcfg": f"""
general: {{
    enabled = true
    events = "plugins,sessions,handles"
    grouping = true
    json = "compact"
    backend = "{backend}"
    backend_user = "{user}"
    backend_pwd = "{password}"
    max_retransmissions = 3
    retransmissions_backoff = 100
}}
""",
    }
    for name, text in files.items():
        (folder / name).write_text(text.lstrip())


@dataclass
class Janus:
    """A running Janus: its API URL, the receiver of its events, and its log."""

    api_url: str
    receiver: EventReceiver
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(api_url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``GET /janus/info`` until Janus answers, it exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{api_url}/info").status_code == 200:
                    return True
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if Janus does not exit within a few seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def running_janus(
    workdir: Path, *, session_timeout: int = 60, backend: tuple[str, str, str] | None = None
) -> Iterator[Janus]:
    """Start Janus with a generated config folder under ``workdir``; stop it on exit.

    Its event handler posts to a local :class:`EventReceiver`, or to ``backend`` (URL, user,
    password: a Calltrail hook) when given. A port taken between choosing it and Janus binding
    it is retried with another port.
    """
    binary = require_janus()
    user, password = "janus", secrets.token_urlsafe(16)
    with EventReceiver(user, password) as receiver:
        url, user, password = backend or (receiver.url, user, password)
        for attempt in range(3):
            port = free_port()
            configs = workdir / f"janus-{attempt}"
            write_configs(
                configs, port=port, backend=url, user=user, password=password, session_timeout=session_timeout
            )
            log_path = workdir / f"janus-{attempt}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [binary, "-F", str(configs), "-C", str(configs / "janus.jcfg"), "-o"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            api_url = f"http://127.0.0.1:{port}/janus"
            try:
                if _wait_ready(api_url, process, STARTUP_TIMEOUT):
                    yield Janus(api_url, receiver, log_path, process)
                    return
            except BaseException:
                # pytest shows captured output for a failed test: Janus' side of the story.
                print(f"--- Janus log ({log_path}), last lines:\n{log_path.read_text(errors='replace')[-4000:]}")
                raise
            finally:
                _stop(process)
        pytest.fail(f"Janus did not start; last log:\n{log_path.read_text(errors='replace')[-4000:]}")


# --- the Janus API ------------------------------------------------------------------------------


class JanusError(AssertionError):
    """Janus answered a request with an error."""


@dataclass
class Handle:
    """A plugin handle in a session."""

    session: Session
    handle_id: int
    plugin: str

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (``create``, ``destroy``, ``kick``...): its plugin data."""
        reply = self.session.api.post(
            f"/{self.session.session_id}/{self.handle_id}", {"janus": "message", "body": body}
        )
        return _plugin_data(reply)

    def async_request(self, body: dict[str, Any], match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """An asynchronous request (``join``, ``leave``): Janus acks, and the result arrives later
        as an event for this handle; returns the plugin data of the first event that ``match``es
        (other participants' notifications may come first)."""
        reply = self.session.api.post(
            f"/{self.session.session_id}/{self.handle_id}", {"janus": "message", "body": body}
        )
        if reply.get("janus") != "ack":
            return _plugin_data(reply)
        return self.session.next_event(self.handle_id, match)

    def detach(self) -> None:
        self.session.api.post(f"/{self.session.session_id}/{self.handle_id}", {"janus": "detach"})


def _plugin_data(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("janus") == "error":
        raise JanusError(str(reply.get("error")))
    data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
    if "error" in data:
        raise JanusError(f"{data.get('error_code')}: {data['error']}")
    return data


@dataclass
class Session:
    """A Janus session; keeps itself alive from a background thread until destroyed or dropped."""

    api: JanusApi
    session_id: int
    alive: bool = True
    pending: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, plugin: str) -> Handle:
        reply = self.api.post(f"/{self.session_id}", {"janus": "attach", "plugin": plugin})
        return Handle(self, int(reply["data"]["id"]), plugin)

    def next_event(self, handle_id: int, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Long-poll this session until an event for ``handle_id`` whose plugin data matches
        (bounded: a few polls of at most ``LONG_POLL_TIMEOUT`` each)."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while time.monotonic() < deadline:
            for event in self.pending:
                data = _plugin_data(event) if event.get("sender") == handle_id else None
                if data is not None and match(data):
                    self.pending.remove(event)
                    return data
            self.pending.extend(self.api.poll(self.session_id))
        raise JanusError(f"no matching event for handle {handle_id} within {REQUEST_TIMEOUT}s")

    def destroy(self) -> None:
        """Destroy the session (its handles are detached, so any participant leaves)."""
        self.alive = False
        self.api.post(f"/{self.session_id}", {"janus": "destroy"})

    def drop(self) -> None:
        """Stop keeping the session alive, as a crashed client would: Janus times it out."""
        self.alive = False


class JanusApi:
    """Janus' HTTP API (``/janus``): sessions, handles, messages and long polls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=REQUEST_TIMEOUT)
        self.poll_client = httpx.Client(timeout=LONG_POLL_TIMEOUT)
        self.sessions: list[Session] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._keeper = threading.Thread(target=self._keep_alive, daemon=True)
        self._keeper.start()

    def close(self) -> None:
        self._stop.set()
        self._keeper.join(timeout=5)
        self.client.close()
        self.poll_client.close()

    def post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        message = {**message, "transaction": secrets.token_hex(6)}
        with self._lock:  # httpx.Client is shared with the keep-alive thread
            response = self.client.post(self.url + path, json=message)
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        if reply.get("janus") == "error":
            raise JanusError(str(reply.get("error")))
        return reply

    def poll(self, session_id: int) -> list[dict[str, Any]]:
        """One long poll. Janus holds it until an event is queued, or 30 s and then answers a
        keepalive, so the client waits longer than that: a poll abandoned early would stay
        pending in Janus and swallow the next event."""
        response = self.poll_client.get(f"{self.url}/{session_id}", params={"maxev": 10})
        response.raise_for_status()
        decoded = response.json()
        events = decoded if isinstance(decoded, list) else [decoded]
        return [event for event in events if event.get("janus") != "keepalive"]

    def create_session(self) -> Session:
        reply = self.post("", {"janus": "create"})
        session = Session(self, int(reply["data"]["id"]))
        self.sessions.append(session)
        return session

    def _keep_alive(self) -> None:
        # A session Janus hears nothing from for session_timeout seconds is destroyed: keep the
        # live ones alive, so only a session a test drops times out.
        while not self._stop.wait(0.5):
            for session in list(self.sessions):
                if session.alive:
                    # Racing a session's destruction or Janus' shutdown is expected here.
                    with contextlib.suppress(httpx.HTTPError, JanusError, ValueError):
                        self.post(f"/{session.session_id}", {"janus": "keepalive"})
