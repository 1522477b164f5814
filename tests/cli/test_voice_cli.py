"""``calltrail channels create`` and ``calltrail demo --channel``, in process, on both databases."""

from __future__ import annotations

import json
import secrets
import uuid

import orjson
import pytest
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.kernel.instants import parse_rfc3339
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import STATUSES, new_channel_settings


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def app_id(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("CLI telephony", f"cli-{secrets.token_hex(4)}")).app_id


@pytest.mark.parametrize("command", [["channels"], ["channels", "create"], ["demo"]])
def test_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    if command == ["demo"]:
        assert "--channel" in result.output


def test_channels_create(runner: CliRunner, stores: Stores, app_id: str) -> None:
    chosen = str(uuid.uuid4())
    result = runner.invoke(
        main,
        ["channels", "create", "--app", app_id, "--name", "NL line", "--id", chosen.upper(), "--db", stores.db.url],
    )
    assert result.exit_code == 0, result.output
    channel = json.loads(result.stdout)
    assert set(channel) == {"channelId", "workspaceId", "name", "createdAt"}
    assert (channel["channelId"], channel["workspaceId"], channel["name"]) == (chosen, app_id, "NL line")
    assert channel["createdAt"].endswith("Z") and parse_rfc3339(channel["createdAt"]) > 0
    assert stores.voice.get_channel(app_id, chosen) is not None
    random_one = json.loads(
        runner.invoke(main, ["channels", "create", "--app", app_id, "--name", "Other", "--db", stores.db.url]).stdout
    )
    assert uuid.UUID(random_one["channelId"]).version == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "line-1"], "UUID"),
        (["--id", "{same}"], "already exists"),
        (["--app", "no-such-app"], "no app"),
    ],
)
def test_channels_create_errors(runner: CliRunner, stores: Stores, app_id: str, args: list[str], message: str) -> None:
    same = stores.voice.create_channel(app_id, new_channel_settings("Taken")).channel_id
    args = [arg.format(same=same) for arg in args]
    base = {"--app": app_id, "--name": "Line"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = runner.invoke(main, ["channels", "create", *[x for kv in base.items() for x in kv], "--db", stores.db.url])
    assert result.exit_code != 0 and message in result.output


def test_demo_for_a_channel_goes_through_the_event_pipeline(runner: CliRunner, stores: Stores, app_id: str) -> None:
    channel = stores.voice.create_channel(app_id, new_channel_settings("Demo line")).channel_id
    args = [
        "demo",
        "--app",
        app_id,
        "--channel",
        channel.upper(),
        "--calls",
        "400",
        "--seed",
        "5",
        "--db",
        stores.db.url,
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "generated 400 calls" in result.output
    page = stores.voice.find(app_id, ChannelCallQuery(scope=channel), None, 1000)
    records = [orjson.loads(item) for item in page.items]
    assert len(records) == 400 and {r["status"] for r in records} == set(STATUSES)
    again = runner.invoke(main, args)  # same seed: every event is a duplicate, nothing changes
    assert again.exit_code == 0
    assert [
        orjson.loads(i) for i in stores.voice.find(app_id, ChannelCallQuery(scope=channel), None, 1000).items
    ] == records


def test_demo_needs_an_existing_channel(runner: CliRunner, stores: Stores, app_id: str) -> None:
    result = runner.invoke(
        main, ["demo", "--app", app_id, "--channel", str(uuid.uuid4()), "--calls", "5", "--db", stores.db.url]
    )
    assert result.exit_code != 0 and "channels create" in result.output
