"""Data lifecycle: per-app retention and the key that makes erasure pseudonyms.

* ``apps.retention_days``: calls older than this many days (by ``initiatedAt`` / ``createdAt``)
  are deleted by ``calltrail serve`` in the background; NULL or 0 keeps them forever.
* ``calltrail_secrets['erasure']``: the HMAC key of the stable pseudonym that replaces an
  erased uid (``erased-`` + 16 hex digits), shared by every server on the database so that the
  same uid always gets the same pseudonym, and unguessable so that a pseudonym cannot be
  reversed by trying uids.
"""

from __future__ import annotations

import secrets


def statements(dialect: str) -> list[str]:
    return [
        "ALTER TABLE apps ADD COLUMN retention_days INTEGER",
        f"INSERT INTO calltrail_secrets (name, value) VALUES ('erasure', '{secrets.token_hex(32)}')",
    ]
