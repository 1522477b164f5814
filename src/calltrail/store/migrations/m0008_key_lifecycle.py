"""API keys an operator can tell apart, expire and revoke.

* ``prefix``: the first characters of the key, shown by ``calltrail keys list`` so a person can
  tell which key is which (the rest of the key stays secret: 128 of its 160 bits). NULL for keys
  made before this migration, whose secret was never stored; they are named by their key id
  (the first 16 hex digits of the stored hash) instead.
* ``expires_at``: epoch milliseconds after which the key is refused (401); NULL: never.

Revoking a key deletes its row. An index on ``(app_id, created_at)`` serves the per-app listing.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    return [
        "ALTER TABLE api_keys ADD COLUMN prefix TEXT",
        "ALTER TABLE api_keys ADD COLUMN expires_at BIGINT",
        "CREATE INDEX api_keys_by_app ON api_keys (app_id, created_at)",
    ]
