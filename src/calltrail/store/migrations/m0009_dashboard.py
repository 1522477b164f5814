"""The key that signs the dashboard's session cookies, shared by every server on this database.

Generated once, when the migration runs (like the page-token key of m0003), so a session
signed by one stateless server verifies on any other behind the same load balancer.
"""

from __future__ import annotations

import secrets


def statements(dialect: str) -> list[str]:
    return [
        "INSERT INTO calltrail_secrets (name, value) "
        f"VALUES ('dashboard_session', '{secrets.token_hex(32)}') ON CONFLICT (name) DO NOTHING",
    ]
