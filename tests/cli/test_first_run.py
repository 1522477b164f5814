"""``calltrail serve --demo``: besides in-app calls, a phone channel with Bird-shaped phone calls,
so the phone-call API, the dashboard's ``Phone calls`` page and the overview's phone figures
have data on a fresh demo; the printed examples (the phone one included) work."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from calltrail.cli import _ingest_demo, _ingest_telephony_demo
from calltrail.cli.first_run import DEMO_APP, DEMO_CHANNEL, DEMO_PHONE_CALLS, prepare_demo
from calltrail.store import open_stores
from calltrail.voice.query import ChannelCallQuery
from tests.conftest import Server


@pytest.mark.e2e
def test_serve_demo_makes_phone_calls(server_factory: Callable[..., Server], tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'calltrail.db'}"
    server = server_factory(db_url, "--demo", "--demo-calls", "50")
    output = server.output()
    key = re.search(r"API key\s*:\s*([0-9a-f]{40})", output)
    channel = re.search(r"channel\s*:\s*([0-9a-f-]{36})\s+\(phone calls", output)
    assert key and channel, output
    assert f"Generating {DEMO_PHONE_CALLS} demo phone calls..." in output
    assert f" CHANNEL={channel.group(1)}\n" in output
    # The printed phone example, run as printed (in a shell, with the printed variables).
    export = re.search(r"^  (export BASE=\S+ KEY=\S+ TOKEN=\S+ CHANNEL=\S+)$", output, re.M)
    example = re.search(r'^  (curl -s "\$BASE/workspaces/demo/channels/\$CHANNEL/calls\?limit=2" .*)$', output, re.M)
    assert export and example, output
    script = f"{export.group(1).replace('localhost', '127.0.0.1')}\n{example.group(1)}"
    ran = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=True)
    assert len(re.findall(r'"channelId":"' + channel.group(1), ran.stdout)) == 2, ran.stdout
    bird = {"Authorization": f"AccessKey {key.group(1)}"}
    with server.client(headers=bird) as client:
        channels = client.get("/workspaces/demo/channels/calls", params={"limit": 100}).json()
        assert {call["channelId"] for call in channels["results"]} == {channel.group(1)}
    with server.client(headers={"apikey": key.group(1)}) as client:
        voice = client.get("/api/usage/voice", params={"interval": "all", "from": 1700000000, "to": 1800000000}).json()[
            "data"
        ]
        assert voice[0]["calls"] == DEMO_PHONE_CALLS and 0 < voice[0]["answered"] < DEMO_PHONE_CALLS
        in_app = client.get("/v3/calls", params={"perPage": 1}).json()
        assert in_app["meta"]["pagination"]["total"] == 50  # the in-app calls are still there
    # A second start keeps the data and prints the same channel.
    server.process.terminate()
    server.process.wait(10)
    again = server_factory(db_url, "--demo").output()
    assert "existing data" in again and "Generating" not in again
    assert f"channel   : {channel.group(1)}" in again


def _prepare(tmp_path: Path, phone_calls: int) -> dict[str, int]:
    """``prepare_demo`` as ``serve --demo`` runs it, on a fresh database: the phone calls of
    each channel it made, by the channel's name and id (``name id``)."""
    url = f"sqlite:///{tmp_path / 'calltrail.db'}"
    stores = open_stores(url)
    try:
        prepare_demo(
            stores,
            url,
            "127.0.0.1",
            8080,
            10,
            _ingest_demo,
            phone_calls=phone_calls,
            ingest_phone=_ingest_telephony_demo,
        )
        return {
            f"{c.name} {c.channel_id}": len(
                stores.voice.find(DEMO_APP, ChannelCallQuery(scope=c.channel_id), None, 100).items
            )
            for c in stores.voice.list_channels(DEMO_APP)
        }
    finally:
        stores.close()


def test_prepare_demo_adds_a_channel_with_phone_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [(channel, calls)] = _prepare(tmp_path, 30).items()
    name, channel_id = channel.rsplit(" ", 1)
    assert name == DEMO_CHANNEL and calls == 30
    printed = capsys.readouterr().err
    assert f"channel   : {channel_id}   (phone calls, Bird's API)" in printed
    assert 'curl -s "$BASE/workspaces/demo/channels/$CHANNEL/calls?limit=2"' in printed


def test_no_phone_calls_when_asked_for_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _prepare(tmp_path, 0) == {}
    printed = capsys.readouterr().err
    assert "CHANNEL=" not in printed and "/workspaces/" not in printed
    assert 'curl -s "$BASE/v3/calls?perPage=2&status=ended" -H "apikey: $KEY"' in printed
