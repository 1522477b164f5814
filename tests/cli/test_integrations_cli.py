"""``calltrail integrations create|list|delete``, in process, on both databases."""

from __future__ import annotations

import secrets

import orjson
import pytest
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings


@pytest.fixture
def app_id(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("CLI hooks", f"cli-{secrets.token_hex(4)}")).app_id


def run(stores: Stores, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", stores.db.url])
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [["integrations"], ["integrations", "create"], ["integrations", "list"]])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_create_list_and_delete(stores: Stores, app_id: str) -> None:
    code, out = run(stores, "integrations", "create", "--app", app_id, "--provider", "janus")
    assert code == 0, out
    janus = orjson.loads(out)
    assert set(janus) == {"integrationId", "provider", "appId", "path", "username", "password"}
    assert janus["path"] == f"/hooks/{janus['integrationId']}" and janus["appId"] == app_id
    code, out = run(
        stores, "integrations", "create", "--app", app_id, "--provider", "livekit", "--api-key", "APIk",
        "--api-secret", "s3cret-value",
    )  # fmt: skip
    assert code == 0 and set(orjson.loads(out)) == {"integrationId", "provider", "appId", "path"}
    channel = stores.voice.create_channel(app_id, new_channel_settings("Line")).channel_id
    code, out = run(
        stores, "integrations", "create", "--app", app_id, "--provider", "twilio", "--channel", channel,
        "--auth-token", "twilio-auth-token-77", "--public-url", "https://calls.example.com",
    )  # fmt: skip
    twilio = orjson.loads(out)
    assert code == 0 and twilio["channelId"] == channel and "password" not in twilio

    code, out = run(stores, "integrations", "list", "--app", app_id)
    listed = orjson.loads(out)
    assert code == 0 and [item["provider"] for item in listed] == ["janus", "livekit", "twilio"]
    assert janus["password"] not in out and "s3cret-value" not in out and "twilio-auth-token-77" not in out

    code, out = run(stores, "integrations", "delete", "--app", app_id, janus["integrationId"])
    assert code == 0
    code, out = run(stores, "integrations", "list", "--app", app_id)
    assert [item["provider"] for item in orjson.loads(out)] == ["livekit", "twilio"]
    code, out = run(stores, "integrations", "delete", "--app", app_id, janus["integrationId"])
    assert code != 0 and "no integration" in out


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--provider", "livekit", "--api-key", "k"], "secret"),
        (["--provider", "kamailio"], "channel"),
        (["--provider", "janus", "--api-key", "k"], "api_key"),
        (["--provider", "teams"], "teams"),
        (["--provider", "twilio", "--channel", "not-a-uuid", "--auth-token", "t"], "channel"),
    ],
)
def test_bad_options_are_one_line_errors(stores: Stores, app_id: str, args: list[str], complaint: str) -> None:
    code, out = run(stores, "integrations", "create", "--app", app_id, *args)
    assert code != 0 and complaint in out


def test_a_channel_of_another_app_is_refused(stores: Stores, app_id: str) -> None:
    other = stores.tenants.create_app(new_app_settings("Other", f"cli-{secrets.token_hex(4)}")).app_id
    channel = stores.voice.create_channel(other, new_channel_settings("Theirs")).channel_id
    code, out = run(stores, "integrations", "create", "--app", app_id, "--provider", "kamailio", "--channel", channel)
    assert code != 0 and "no channel" in out
