"""Apps (tenants) and their API keys.

Keys are 40 random hex characters, shown once at creation and stored only as a SHA-256 hash:
they are high-entropy secrets, so a fast hash is enough and keeps every request's lookup cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from calltrail.kernel.errors import AppNotFound, Conflict
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


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key (its secret is not kept)."""

    app_id: str
    name: str
    scope: str
    created_at_ms: int


def hash_secret(secret: str) -> str:
    """The stored form of an API key or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TenantStore:
    """Create and look up apps and API keys."""

    def __init__(self, db: Database):
        self.db = db

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

    def count_apps(self) -> int:
        """How many apps exist (0 on a fresh database)."""
        with self.db.read() as conn:
            row = conn.fetchone("SELECT count(*) FROM apps")
        return int(row[0]) if row else 0

    def create_key(self, app_id: str, settings: tuple[str, str] | None = None) -> tuple[str, ApiKey]:
        """Create a key for an app from checked ``(scope, name)``
        (:func:`calltrail.kernel.tenancy.new_key_settings`); returns ``(secret, key)``. The
        secret is never stored."""
        scope, name = settings or new_key_settings()
        secret = secrets.token_hex(20)
        key = ApiKey(app_id, name, scope, now_ms())
        with self.db.write() as conn:
            if not conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (app_id,)):
                raise AppNotFound(f"There is no app with id {app_id!r}.")
            conn.execute(
                "INSERT INTO api_keys (app_id, key_hash, name, scope, created_at) VALUES (?, ?, ?, ?, ?)",
                (app_id, hash_secret(secret), name, scope, key.created_at_ms),
            )
        return secret, key

    def find_key(self, secret: str) -> ApiKey | None:
        """The key a request presents, or None if no app has it."""
        with self.db.read() as conn:
            row = conn.fetchone(
                "SELECT app_id, name, scope, created_at FROM api_keys WHERE key_hash = ?", (hash_secret(secret),)
            )
        return ApiKey(*row) if row else None
