"""User and group display profiles, users' auth tokens (the credential of the user view), and
an index that lets the user view count one user's calls by their per-user flags.

Calls name users and groups by id only; these tables give the user view names, avatars and
icons. Auth tokens are stored as SHA-256 hashes under the app they belong to: the app id is
part of the token itself, so a token is looked up by ``(app_id, token_hash)``, the primary
key, and every query stays on one tenant (Citus rule).
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    # Small rows keyed by text are stored clustered on SQLite: one b-tree instead of two.
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE user_profiles ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " uid TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " avatar TEXT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, uid)){clustered}",
        "CREATE TABLE group_profiles ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " guid TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " icon TEXT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, guid)){clustered}",
        "CREATE TABLE auth_tokens ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " token_hash TEXT NOT NULL,"
        # A public handle (the first 16 hex digits of the hash) to list and revoke a token by.
        " token_id TEXT NOT NULL,"
        " uid TEXT NOT NULL,"
        # Milliseconds, strictly increasing per user, so "the newest 100" is always well defined.
        " created_at BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, token_hash)){clustered}",
        "CREATE INDEX auth_tokens_by_uid ON auth_tokens (app_id, uid, created_at)",
        # A user's totals by direction and missed come from member_counts (m0005), and their
        # missed calls from the partial index of m0001: no index on call_members is needed here.
    ]
