"""The command line, in process (click's runner) against both databases."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from tests.sessions.spec_calls import spec_get_response, spec_list_response

COMMANDS = [
    [],
    ["serve"],
    ["migrate"],
    ["apps"],
    ["apps", "create"],
    ["keys"],
    ["keys", "create"],
    ["import"],
    ["demo"],
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "calltrail")
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4
    short = runner.invoke(main, [*command, "-h"])
    assert short.exit_code == 0


def test_apps_and_keys(runner: CliRunner, stores: Stores) -> None:
    app_id = f"cli-{secrets.token_hex(4)}"
    result = runner.invoke(
        main, ["apps", "create", "--name", "CLI app", "--id", app_id, "--region", "eu", "--db", stores.db.url]
    )
    assert result.exit_code == 0, result.output
    app = json.loads(result.stdout)
    assert set(app) == {"appId", "name", "region", "createdAt"}
    assert (app["appId"], app["name"], app["region"]) == (app_id, "CLI app", "eu")
    key = json.loads(runner.invoke(main, ["keys", "create", "--app", app_id, "--db", stores.db.url]).stdout)
    assert set(key) == {"apiKey", "keyId", "prefix", "name", "scope", "createdAt", "expiresAt", "expired"}
    assert key["scope"] == "fullAccess" and key["prefix"] == key["apiKey"][:8]
    assert stores.tenants.find_key(key["apiKey"]) is not None
    auth = json.loads(
        runner.invoke(
            main, ["keys", "create", "--app", app_id, "--scope", "authOnly", "--name", "web", "--db", stores.db.url]
        ).stdout
    )
    assert (auth["scope"], auth["name"]) == ("authOnly", "web")


def test_random_app_id_and_env_database(runner: CliRunner, stores: Stores) -> None:
    result = runner.invoke(main, ["apps", "create", "--name", "Env"], env={"CALLTRAIL_DB": stores.db.url})
    assert result.exit_code == 0
    assert stores.tenants.get_app(json.loads(result.stdout)["appId"]) is not None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["apps", "create", "--name", "X", "--id", "bad id"], "id"),
        (["apps", "create", "--name", "X", "--region", "mars"], "region"),
        (["keys", "create", "--app", "no-such-app"], "no app"),
        (["keys", "create", "--app", "x", "--scope", "root"], "scope"),
        (["demo", "--app", "no-such-app", "--calls", "1"], "no app"),
        (["import", "--app", "no-such-app", "-"], "no app"),
    ],
)
def test_errors_are_one_line_and_fail(runner: CliRunner, stores: Stores, args: list[str], fragment: str) -> None:
    result = runner.invoke(main, [*args, "--db", stores.db.url], input="")
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert fragment.lower() in result.stderr.lower()
    assert len([line for line in lines if line.startswith("Error")]) == 1


def test_duplicate_app_and_bad_database_url(runner: CliRunner, stores: Stores, tmp_path: Path) -> None:
    app_id = f"dup-{secrets.token_hex(4)}"
    runner.invoke(main, ["apps", "create", "--name", "A", "--id", app_id, "--db", stores.db.url])
    again = runner.invoke(main, ["apps", "create", "--name", "A", "--id", app_id, "--db", stores.db.url])
    assert again.exit_code == 1 and "already exists" in again.stderr
    bad = runner.invoke(main, ["apps", "create", "--name", "A", "--db", "mysql://x"])
    assert bad.exit_code == 1 and "unsupported database URL" in bad.stderr
    missing = runner.invoke(main, ["apps", "create", "--name", "A", "--db", f"sqlite:///{tmp_path}/no/such/dir.db"])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def _app(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("Import", f"imp-{secrets.token_hex(4)}")).app_id


def test_import_list_get_and_ndjson(runner: CliRunner, stores: Stores, tmp_path: Path) -> None:
    app_id = _app(stores)
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(spec_list_response()))
    single = tmp_path / "get.json"
    get = spec_get_response()
    get["data"]["sessionId"] = "from-get"
    single.write_text(json.dumps(get, indent=2))
    ndjson = tmp_path / "calls.ndjson"
    rows = [dict(spec_list_response()["data"][1], sessionId=f"nd-{i}") for i in range(3)]
    ndjson.write_text("\n".join(json.dumps(row) for row in rows[:2]) + "\n\n" + json.dumps({"data": rows[2]}) + "\n")
    result = runner.invoke(
        main, ["import", "--app", app_id, "--db", stores.db.url, str(listing), str(single), str(ndjson)]
    )
    assert result.exit_code == 0, result.stderr
    assert "imported 6 record(s), skipped 0" in result.stderr
    stored = stores.sessions.get(app_id, "from-get")
    assert stored is not None and orjson.loads(stored.summary)["initiator"] == "superhero8"
    again = runner.invoke(main, ["import", "--app", app_id, "--db", stores.db.url, str(listing)])
    assert again.exit_code == 0
    from calltrail.sessions.pages import PageRequest
    from calltrail.sessions.query import CallQuery

    assert stores.sessions.find(app_id, CallQuery(), PageRequest(1, 100)).total == 6  # idempotent


def test_import_reports_bad_records_and_keeps_the_rest(runner: CliRunner, stores: Stores) -> None:
    app_id = _app(stores)
    good = spec_list_response()["data"][0]
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "sessionId": "bad", "status": "exploded"}),
        json.dumps(dict(good, sessionId="good-2")),
    ]
    result = runner.invoke(main, ["import", "--app", app_id, "--db", stores.db.url, "-"], input="\n".join(lines))
    assert result.exit_code == 1
    assert "stdin: line 2: not JSON" in result.stderr
    assert "stdin: line 3: status:" in result.stderr
    assert "imported 2 record(s), skipped 2" in result.stderr
    assert stores.sessions.get(app_id, "good-2") is not None and stores.sessions.get(app_id, "bad") is None


def test_demo_is_deterministic_and_idempotent(runner: CliRunner, stores: Stores) -> None:
    first, second = _app(stores), _app(stores)
    for app_id in (first, second):
        result = runner.invoke(main, ["demo", "--app", app_id, "--calls", "40", "--seed", "5", "--db", stores.db.url])
        assert result.exit_code == 0, result.stderr
        assert "generated 40 calls" in result.stderr
    from calltrail.sessions.pages import PageRequest
    from calltrail.sessions.query import CallQuery

    pages = [stores.sessions.find(app_id, CallQuery(), PageRequest(1, 100)) for app_id in (first, second)]
    assert pages[0].total == 40
    strip = [
        [{k: v for k, v in record.items() if k != "sessionId"} for record in page.calls.parsed()] for page in pages
    ]
    assert [len(p) for p in strip] == [40, 40]
    rerun = runner.invoke(main, ["demo", "--app", first, "--calls", "40", "--seed", "5", "--db", stores.db.url])
    assert rerun.exit_code == 0
    assert stores.sessions.find(first, CallQuery(), PageRequest(1, 100)).calls == pages[0].calls


def test_serve_fails_in_one_line_when_the_port_is_taken(runner: CliRunner, stores: Stores) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["serve", "--port", str(port), "--db", stores.db.url])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")


def test_unreachable_postgresql_fails_fast_in_one_line(runner: CliRunner) -> None:
    result = runner.invoke(main, ["apps", "create", "--name", "X", "--db", "postgresql://postgres@127.0.0.1:1/x"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot connect to PostgreSQL") and "refused" in lines[0]


def test_import_tidies_the_backlog_every_few_batches(
    runner: CliRunner, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``TIDY_EVERY`` full batches the import vacuums the rollups' backlog (its marks are
    written and deleted again by every few batches), through the real ``tidy``."""
    from calltrail.cli import importer
    from calltrail.store.database import Database
    from calltrail.store.usage_backlog import TIDY_EVERY, tidy

    app_id = _app(stores)
    good = spec_list_response()["data"][0]
    lines = [json.dumps(dict(good, sessionId=f"tidy-{n}")) for n in range(2 * TIDY_EVERY + 1)]
    tidied: list[str] = []
    monkeypatch.setattr(importer, "BATCH", 1)

    def tidy_and_record(db: Database) -> None:
        tidied.append(db.url)
        tidy(db)

    monkeypatch.setattr(importer, "tidy", tidy_and_record)
    result = runner.invoke(main, ["import", "--app", app_id, "--db", stores.db.url, "-"], input="\n".join(lines))
    assert result.exit_code == 0, result.stderr
    assert f"imported {len(lines)} record(s), skipped 0" in result.stderr
    assert tidied == [stores.db.url] * 2
