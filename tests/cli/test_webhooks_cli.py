"""``calltrail webhooks create|list|delete`` against both databases."""

from __future__ import annotations

import secrets

import orjson
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores


def test_create_list_delete(stores: Stores) -> None:
    runner = CliRunner()
    app = stores.tenants.create_app(new_app_settings("CLI", f"t-{secrets.token_hex(6)}")).app_id
    db = ["--db", stores.db.url, "--app", app]
    options = ["--url", "https://r.example/h", "--event", "call.ended", "--event", "call.missed", "--description", "x"]
    created = runner.invoke(main, ["webhooks", "create", *db, *options])
    assert created.exit_code == 0, created.output
    sub = orjson.loads(created.stdout)
    assert sub["events"] == ["call.ended", "call.missed"] and sub["secret"].startswith("whsec_")
    assert stores.outbox.get(app, sub["id"]).url == "https://r.example/h"
    listed = runner.invoke(main, ["webhooks", "list", *db])
    assert [orjson.loads(line) for line in listed.stdout.splitlines()] == [
        {k: v for k, v in sub.items() if k != "secret"}
    ]
    deleted = runner.invoke(main, ["webhooks", "delete", *db, "--id", sub["id"]])
    assert deleted.exit_code == 0 and runner.invoke(main, ["webhooks", "list", *db]).stdout == ""
    again = runner.invoke(main, ["webhooks", "delete", *db, "--id", sub["id"]])
    assert again.exit_code == 1 and "no webhook" in again.output


def test_bad_input_is_one_clear_line(stores: Stores) -> None:
    runner = CliRunner()
    app = stores.tenants.create_app(new_app_settings("CLI", f"t-{secrets.token_hex(6)}")).app_id
    bad = runner.invoke(main, ["webhooks", "create", "--db", stores.db.url, "--app", app, "--url", "ftp://x"])
    assert bad.exit_code == 2 and "url: must be an absolute http or https URL" in bad.output
    every = runner.invoke(
        main, ["webhooks", "create", "--db", stores.db.url, "--app", app, "--url", "http://r.example"]
    )
    assert orjson.loads(every.stdout)["events"] == ["*"]
    missing = runner.invoke(main, ["webhooks", "list", "--db", stores.db.url, "--app", "no-such-app"])
    assert missing.exit_code == 1
