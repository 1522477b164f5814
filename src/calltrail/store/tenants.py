"""Apps (tenants) and their API keys.

Keys are 40 random hex characters, shown once at creation and stored only as a SHA-256 hash:
they are high-entropy secrets, so a fast hash is enough and keeps every request's lookup cheap.
A key is named, without revealing it, by its *prefix* (its first :data:`PREFIX_LENGTH`
characters, stored since migration 0008) or its *key id* (the first 16 hex digits of its hash).
A key may expire; an expired key is refused like an unknown one. Revoking a key deletes it.

A key found is remembered for :data:`KEY_CACHE_SECONDS` (per store, so per server process): a busy
client's requests then skip the lookup. Its expiry is still checked on every request; a revocation
is seen at once by the store that revokes, and by every other process (``calltrail keys revoke``
runs in its own) within :data:`KEY_CACHE_SECONDS`. Unknown keys are never remembered.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from calltrail.kernel.errors import AppNotFound, Conflict, NotFound
from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import new_key_settings
from calltrail.store.database import Database


@dataclass(frozen=True, slots=True)
class App:
    """A tenant: every call, key and user belongs to exactly one app."""

    app_id: str
    name: str
    region: str
    created_at_ms: int


#: Characters of a key shown to tell keys apart (32 of its 160 bits).
PREFIX_LENGTH = 8
KEY_ID_LENGTH = 16
_KEY_COLUMNS = "app_id, name, scope, created_at, key_hash, prefix, expires_at"
#: How long a key found is trusted without looking again: the bound on how late a server
#: notices a key revoked by another process.
KEY_CACHE_SECONDS = 5.0
#: Keys remembered at most (all are forgotten when full: a refill costs one lookup each).
KEY_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key (its secret is not kept)."""

    app_id: str
    name: str
    scope: str
    created_at_ms: int
    #: The first 16 hex digits of the key's hash: names any key, old or new.
    key_id: str = ""
    #: The key's first characters (None for keys made before migration 0008).
    prefix: str | None = None
    expires_at_ms: int | None = None


def _key(row: tuple[object, ...]) -> ApiKey:
    app_id, name, scope, created, key_hash, prefix, expires = row
    return ApiKey(
        str(app_id),
        str(name),
        str(scope),
        int(str(created)),
        str(key_hash)[:KEY_ID_LENGTH],
        None if prefix is None else str(prefix),
        None if expires is None else int(str(expires)),
    )


def hash_secret(secret: str) -> str:
    """The stored form of an API key or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TenantStore:
    """Create and look up apps and API keys."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self._clock = clock
        # key hash -> (the key, when it was looked up)
        self._found: dict[str, tuple[ApiKey, float]] = {}

    def create_app(self, settings: tuple[str, str, str]) -> App:
        """Create an app from checked ``(name, app id, region)``
        (:func:`calltrail.kernel.tenancy.new_app_settings`)."""
        name, app_id, region = settings
        app = App(app_id, name, region, now_ms())
        with self.db.write() as conn:
            if conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (app_id,)):
                raise Conflict(f"An app with id {app_id!r} already exists.")
            conn.execute(
                "INSERT INTO apps (app_id, name, region, created_at) VALUES (?, ?, ?, ?)",
                (app.app_id, app.name, app.region, app.created_at_ms),
            )
        return app

    def get_app(self, app_id: str) -> App | None:
        """The app with this id, or None."""
        with self.db.read() as conn:
            row = conn.fetchone("SELECT app_id, name, region, created_at FROM apps WHERE app_id = ?", (app_id,))
        return App(*row) if row else None

    def require_app(self, app_id: str) -> App:
        """The app with this id; raises :class:`AppNotFound` when there is none."""
        app = self.get_app(app_id)
        if app is None:
            raise AppNotFound(f"There is no app with id {app_id!r}.")
        return app

    def list_apps(self) -> list[App]:
        """Every app, oldest first."""
        with self.db.read() as conn:
            rows = conn.fetchall("SELECT app_id, name, region, created_at FROM apps ORDER BY created_at, app_id")
        return [App(*row) for row in rows]

    def count_apps(self) -> int:
        """How many apps exist (0 on a fresh database)."""
        with self.db.read() as conn:
            row = conn.fetchone("SELECT count(*) FROM apps")
        return int(row[0]) if row else 0

    def create_key(
        self, app_id: str, settings: tuple[str, str] | None = None, expires_at_ms: int | None = None
    ) -> tuple[str, ApiKey]:
        """Create a key for an app from checked ``(scope, name)``
        (:func:`calltrail.kernel.tenancy.new_key_settings`), valid until ``expires_at_ms`` (None:
        forever); returns ``(secret, key)``. The secret is never stored, only its hash and prefix."""
        scope, name = settings or new_key_settings()
        secret = secrets.token_hex(20)
        key_hash = hash_secret(secret)
        key = ApiKey(app_id, name, scope, now_ms(), key_hash[:KEY_ID_LENGTH], secret[:PREFIX_LENGTH], expires_at_ms)
        with self.db.write() as conn:
            if not conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (app_id,)):
                raise AppNotFound(f"There is no app with id {app_id!r}.")
            conn.execute(
                "INSERT INTO api_keys (app_id, key_hash, name, scope, created_at, prefix, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (app_id, key_hash, name, scope, key.created_at_ms, key.prefix, expires_at_ms),
            )
        return secret, key

    def list_keys(self, app_id: str) -> list[ApiKey]:
        """Every key of an app (expired ones included), oldest first."""
        with self.db.read() as conn:
            rows = conn.fetchall(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE app_id = ? ORDER BY created_at, key_hash", (app_id,)
            )
        return [_key(row) for row in rows]

    def revoke_key(self, app_id: str, wanted: str) -> ApiKey:
        """Delete the one key of ``app_id`` whose prefix or key id starts with ``wanted`` (checked
        by :func:`calltrail.kernel.tenancy.key_reference`); returns it. Raises :class:`NotFound`
        when no key matches and :class:`Conflict` when several do."""
        with self.db.write() as conn:
            rows = conn.fetchall(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE app_id = ?", (app_id,))
            matches = [
                key
                for key in map(_key, rows)
                if wanted in (key.key_id[: len(wanted)], (key.prefix or "")[: len(wanted)])
            ]
            if not matches:
                raise NotFound(f"App {app_id!r} has no key with prefix or key id {wanted!r}.")
            if len(matches) > 1:
                ids = ", ".join(key.key_id for key in matches)
                raise Conflict(
                    f"{wanted!r} names {len(matches)} keys: give more characters.",
                    {"key": [f"matches {len(matches)} keys ({ids}): give more characters"]},
                )
            conn.execute(
                "DELETE FROM api_keys WHERE app_id = ? AND substr(key_hash, 1, ?) = ?",
                (app_id, KEY_ID_LENGTH, matches[0].key_id),
            )
        self._found.clear()  # the revoked key's hash is not at hand (its id is a prefix of it)
        return matches[0]

    def find_key(self, secret: str) -> ApiKey | None:
        """The key a request presents, or None if no app has it."""
        return self.find_key_hash(hash_secret(secret))

    def find_key_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose stored hash (:func:`hash_secret`) this is, or None: what a dashboard
        session, which keeps the hash and never the key, re-checks on every request. A key found
        is remembered for :data:`KEY_CACHE_SECONDS` (see the module docstring)."""
        now = now_ms()
        found = self._found.get(key_hash)
        if found is not None and self._clock() - found[1] < KEY_CACHE_SECONDS:
            key = found[0]
            return key if key.expires_at_ms is None or key.expires_at_ms > now else None
        looked_up = self._clock()
        with self.db.read() as conn:
            row = conn.fetchone(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key_hash, now),
            )
        if row is None:
            self._found.pop(key_hash, None)
            return None
        if len(self._found) >= KEY_CACHE_SIZE:
            self._found.clear()
        key = _key(row)
        self._found[key_hash] = (key, looked_up)
        return key
