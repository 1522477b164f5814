"""Named signing keys kept in the database (``calltrail_secrets``), shared by every server.

Each key is read once per process and cached: after rotating one (``UPDATE calltrail_secrets``),
restart the servers; what it signed (page tokens, dashboard sessions) then stops verifying.
"""

from __future__ import annotations

import secrets

from calltrail.store.database import Database


class SecretStore:
    """Read-only access to the keys the migrations generated."""

    def __init__(self, db: Database):
        self.db = db
        self._cache: dict[str, bytes] = {}

    def get(self, name: str) -> bytes:
        """The key called ``name``. A missing row (a damaged table) gives a random key for this
        process rather than failing every request: what it signs then verifies only here."""
        key = self._cache.get(name)
        if key is None:
            with self.db.read() as conn:
                row = conn.fetchone("SELECT value FROM calltrail_secrets WHERE name = ?", (name,))
            key = bytes.fromhex(row[0]) if row else secrets.token_bytes(32)
            self._cache[name] = key
        return key
