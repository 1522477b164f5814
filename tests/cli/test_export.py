"""``calltrail export``: the same files the HTTP exports stream, written by the CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores
from calltrail.store.exports import ExportReader
from tests.api.native.conftest import load_usage_app


def test_export_calls_voice_and_participants(stores: Stores, tmp_path: Path) -> None:
    app = load_usage_app(stores)
    runner = CliRunner()
    out = tmp_path / "calls.csv"
    base = ["--app", app.app_id, "--db", stores.db.url]
    result = runner.invoke(
        main,
        [
            "export",
            "calls",
            *base,
            "--format",
            "csv",
            "--out",
            str(out),
            "--filter",
            "status=ended",
            "--filter",
            "receiverType=user",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = stores.sessions.find(
        app.app_id, CallQuery().where("status", "eq", "ended").where("receiver_type", "eq", "user"), PageRequest(1, 1)
    ).total
    lines = out.read_text().splitlines()
    assert lines[0].startswith("sessionId,status,") and len(lines) == expected + 1
    assert f"exported {expected} calls" in result.output
    voice = runner.invoke(main, ["export", "voice", *base, "--filter", f"channelId={app.channel_id}"])
    assert voice.exit_code == 0
    records = [orjson.loads(line) for line in voice.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 150 and all(r["channelId"] == app.channel_id for r in records)
    participants = runner.invoke(main, ["export", "participants", *base, "--format", "csv", "--out", "-"])
    assert participants.exit_code == 0 and participants.stdout.startswith("sessionId,uid,")
    bad = runner.invoke(main, ["export", "calls", *base, "--filter", "colour=red"])
    assert bad.exit_code != 0 and "colour" in bad.output
    assert runner.invoke(main, ["export", "calls", *base, "--filter", "nonsense"]).exit_code != 0


def test_export_reads_ahead_over_many_pages(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 7 calls, each read while the one before it is written: the whole list, in order."""
    app = load_usage_app(stores)
    real = ExportReader.calls
    monkeypatch.setattr(
        ExportReader, "calls", lambda self, app_id, query, **kw: real(self, app_id, query, page_rows=7, **kw)
    )
    result = CliRunner().invoke(main, ["export", "calls", "--app", app.app_id, "--db", stores.db.url])
    assert result.exit_code == 0, result.output
    exported = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    listed = stores.sessions.find(app.app_id, CallQuery(), PageRequest(1, 1000)).calls.parsed()
    assert len(exported) == 360
    assert exported == listed
