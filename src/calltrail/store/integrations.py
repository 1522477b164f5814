"""Integrations: which provider may post to ``/hooks/{integrationId}``, for which app (and
channel), and with which credentials.

Stores take checked values (:func:`calltrail.adapters.integrations.new_integration`): a
generated password is kept only as its SHA-256 hash (it is a high-entropy secret, like an API
key), and signature secrets as given (an HMAC check needs them).
"""

from __future__ import annotations

from calltrail.adapters.integrations import Integration
from calltrail.kernel.errors import AppNotFound, ChannelNotFound, NotFound
from calltrail.store.database import Database, Row

_COLUMNS = (
    "app_id, integration_id, provider, channel_id, api_key, secret, username, password_hash, public_url, created_at"
)


def _integration(row: Row) -> Integration:
    app_id, integration_id, provider, channel_id, api_key, secret, username, password_hash, public_url, created = row
    return Integration(
        app_id, integration_id, provider, channel_id, api_key, secret, username, password_hash, public_url, int(created)
    )


class IntegrationStore:
    """Create, list, find and delete the integrations of every app."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, integration: Integration) -> Integration:
        """Store a new integration (its values checked by the caller)."""
        with self.db.write() as conn:
            if not conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (integration.app_id,)):
                raise AppNotFound(f"There is no app with id {integration.app_id!r}.")
            if integration.channel_id is not None and not conn.fetchone(
                "SELECT 1 FROM channels WHERE app_id = ? AND channel_id = ?",
                (integration.app_id, integration.channel_id),
            ):
                raise ChannelNotFound(
                    f"There is no channel {integration.channel_id!r} in app {integration.app_id!r}: "
                    "create it with `calltrail channels create`."
                )
            conn.execute(
                f"INSERT INTO integrations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    integration.app_id,
                    integration.integration_id,
                    integration.provider,
                    integration.channel_id,
                    integration.api_key,
                    integration.secret,
                    integration.username,
                    integration.password_hash,
                    integration.public_url,
                    integration.created_at_ms,
                ),
            )
        return integration

    def list(self, app_id: str) -> list[Integration]:
        """The app's integrations, oldest first."""
        with self.db.read() as conn:
            rows = conn.fetchall(
                f"SELECT {_COLUMNS} FROM integrations WHERE app_id = ? ORDER BY created_at, integration_id", (app_id,)
            )
        return [_integration(row) for row in rows]

    def find(self, integration_id: str) -> Integration | None:
        """The integration a hook names, or None."""
        with self.db.read() as conn:
            row = conn.fetchone(f"SELECT {_COLUMNS} FROM integrations WHERE integration_id = ?", (integration_id,))
        return _integration(row) if row else None

    def delete(self, app_id: str, integration_id: str) -> None:
        """Remove an integration (its calls stay); raises :class:`NotFound` if there is none."""
        with self.db.write() as conn:
            deleted = conn.execute(
                "DELETE FROM integrations WHERE app_id = ? AND integration_id = ?", (app_id, integration_id)
            ).rowcount
        if not deleted:
            raise NotFound(f"There is no integration {integration_id!r} in app {app_id!r}.")
