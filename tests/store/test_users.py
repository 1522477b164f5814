"""The user store: profiles, the user view's page context, and auth tokens (both databases)."""

from __future__ import annotations

import threading

import pytest

from calltrail.kernel.errors import AuthTokenLimit, AuthTokenNotFound
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.events import parse_batch
from calltrail.store import Stores
from calltrail.store.migrations.m0002_users import statements
from calltrail.store.tenants import hash_secret
from calltrail.store.users import MAX_TOKENS_PER_USER, token_app
from tests.conftest import Tenant
from tests.user_calls import SCENARIOS


def test_profiles_upsert_and_read_back(stores: Stores, tenant: Tenant) -> None:
    first = stores.users.put_user(tenant.app_id, "ava", "Ava", "https://a.example/ava.png")
    assert (first.uid, first.name, first.avatar) == ("ava", "Ava", "https://a.example/ava.png")
    second = stores.users.put_user(tenant.app_id, "ava", "Ava P.", None)
    assert (second.name, second.avatar, second.created_at_ms) == ("Ava P.", None, first.created_at_ms)
    assert second.updated_at_ms >= first.updated_at_ms
    assert stores.users.get_user(tenant.app_id, "ava") == second
    assert stores.users.get_user(tenant.app_id, "nobody") is None
    group = stores.users.put_group(tenant.app_id, "ops", "Ops", None)
    assert stores.users.get_group(tenant.app_id, "ops") == group
    assert stores.users.get_group(tenant.app_id, "ava") is None  # users and groups are apart


def test_profiles_are_per_app(stores: Stores, tenant: Tenant) -> None:
    stores.users.put_user(tenant.app_id, "ava", "Ava", None)
    other = stores.tenants.create_app(new_app_settings("Other", f"{tenant.app_id}-b"))
    assert stores.users.get_user(other.app_id, "ava") is None


def test_page_context_reads_flags_and_profiles_together(stores: Stores, tenant: Tenant) -> None:
    stores.sessions.ingest(tenant.app_id, parse_batch([e for s in SCENARIOS for e in s.events()]))
    stores.users.put_users(tenant.app_id, [("alice", "Alice", None), ("bob", "Bob", "https://b.example/b.png")])
    stores.users.put_groups(tenant.app_id, [("team", "Team", None)])
    sessions = [s.session for s in SCENARIOS]
    context = stores.users.page_context(tenant.app_id, "alice", sessions, ["alice", "bob", "dave"], ["team", "x"])
    want = {s.session: s.expect["alice"] for s in SCENARIOS if "alice" in s.expect}
    assert {sid: ("outgoing" if f.is_initiator else "incoming", f.missed) for sid, f in context.flags.items()} == want
    assert set(context.users) == {"alice", "bob"}
    assert context.users["bob"].avatar == "https://b.example/b.png"
    assert set(context.groups) == {"team"}


def test_page_context_handles_more_ids_than_one_statement_takes(stores: Stores, tenant: Tenant) -> None:
    uids = [f"u{n}" for n in range(1200)]
    stores.users.put_users(tenant.app_id, [(uid, uid.upper(), None) for uid in uids])
    context = stores.users.page_context(tenant.app_id, "u1", [f"s{n}" for n in range(1100)], uids, [])
    assert len(context.users) == 1200 and context.users["u1199"].name == "U1199"
    assert context.flags == {}
    assert stores.users.page_context(tenant.app_id, "u1", [], [], []).users == {}


def test_tokens_are_stored_hashed_under_their_app(stores: Stores, tenant: Tenant) -> None:
    token, stored = stores.users.create_token(tenant.app_id, "ava")
    assert token_app(token) == tenant.app_id
    assert stored.token_id == hash_secret(token)[:16]
    with stores.db.read() as conn:
        rows = conn.fetchall("SELECT app_id, token_hash, uid FROM auth_tokens WHERE app_id = ?", (tenant.app_id,))
    assert rows == [(tenant.app_id, hash_secret(token), "ava")]
    assert token not in repr(rows)
    assert stores.users.find_token(token) == stored


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "_" + "0" * 40,
        "app_" + "0" * 39,
        "app_" + "G" * 40,
        "bad app_" + "0" * 40,
        "a" * 300 + "_" + "0" * 40,
    ],
)
def test_malformed_or_unknown_tokens_find_nothing(stores: Stores, token: str) -> None:
    assert stores.users.find_token(token) is None


def test_a_token_of_one_app_is_unknown_to_another(stores: Stores, tenant: Tenant) -> None:
    token, _ = stores.users.create_token(tenant.app_id, "ava")
    forged = token.replace(tenant.app_id, f"{tenant.app_id}-b", 1)
    stores.tenants.create_app(new_app_settings("Other", f"{tenant.app_id}-b"))
    assert stores.users.find_token(forged) is None


def test_a_token_past_the_limit_is_refused_and_none_is_revoked(stores: Stores, tenant: Tenant) -> None:
    made = [stores.users.create_token(tenant.app_id, "ava") for _ in range(MAX_TOKENS_PER_USER)]
    with pytest.raises(AuthTokenLimit):
        stores.users.create_token(tenant.app_id, "ava")
    other, _ = stores.users.create_token(tenant.app_id, "ben")
    assert all(stores.users.find_token(t) is not None for t, _ in made)  # nobody was signed out
    assert stores.users.find_token(other) is not None
    stores.users.revoke_token(tenant.app_id, "ava", made[0][1].token_id)
    made.append(stores.users.create_token(tenant.app_id, "ava"))  # room again after a revocation
    made.pop(0)
    total, page = stores.users.list_tokens(tenant.app_id, "ava", 0, 10)
    assert total == MAX_TOKENS_PER_USER
    assert [t.token_id for t in page] == [s.token_id for _, s in reversed(made[-10:])]
    created = [s.created_at_ms for _, s in made]
    assert created == sorted(set(created))  # strictly increasing, even within one millisecond


def test_concurrent_creation_keeps_at_most_the_limit(stores: Stores, tenant: Tenant) -> None:
    for _ in range(MAX_TOKENS_PER_USER - 5):
        stores.users.create_token(tenant.app_id, "ava")
    errors: list[BaseException] = []
    refused: list[AuthTokenLimit] = []

    def make() -> None:
        try:
            for _ in range(5):
                try:
                    stores.users.create_token(tenant.app_id, "ava")
                except AuthTokenLimit as exc:
                    refused.append(exc)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(refused) == 15  # 20 attempts, 5 places left
    assert stores.users.list_tokens(tenant.app_id, "ava", 0, 200)[0] == MAX_TOKENS_PER_USER


def test_revoke_by_token_or_by_id(stores: Stores, tenant: Tenant) -> None:
    (first, _), (second, stored) = (stores.users.create_token(tenant.app_id, "ava") for _ in range(2))
    stores.users.revoke_token(tenant.app_id, "ava", first)
    stores.users.revoke_token(tenant.app_id, "ava", stored.token_id)
    assert stores.users.find_token(first) is None and stores.users.find_token(second) is None
    with pytest.raises(AuthTokenNotFound):
        stores.users.revoke_token(tenant.app_id, "ava", first)
    third, _ = stores.users.create_token(tenant.app_id, "ava")
    with pytest.raises(AuthTokenNotFound):
        stores.users.revoke_token(tenant.app_id, "ben", third)  # not ben's
    assert stores.users.revoke_tokens(tenant.app_id, "ava") == 1
    assert stores.users.revoke_tokens(tenant.app_id, "ava") == 0


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_key_starts_with_the_tenant(dialect: str) -> None:
    for statement in statements(dialect):
        if "PRIMARY KEY" in statement:
            assert "PRIMARY KEY (app_id," in statement
        if statement.startswith("CREATE INDEX"):
            assert "(app_id," in statement
