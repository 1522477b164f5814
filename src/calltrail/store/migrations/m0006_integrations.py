"""Integrations (inbound webhook sources) and the room log of providers whose calls are folded
per room (Janus).

An integration connects one provider to one app (and, for phone-call providers, one channel).
``POST /hooks/{integrationId}`` names it by id alone, so it is also indexed by id: the id is a
random UUID, unique across apps. Generated Basic-auth passwords are stored as SHA-256 hashes;
signature secrets (LiveKit's API secret, Twilio's auth token) are stored as given, because
checking an HMAC needs the secret itself.

``room_events`` keeps the facts of a room (a join, a leave), de-duplicated by id like every
event; ``rooms`` keeps, per room, which sessions its last fold produced, so a late fact that
merges or moves a room's calls replaces them exactly.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE integrations ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " integration_id TEXT NOT NULL,"
        " provider TEXT NOT NULL,"
        " channel_id TEXT,"
        " api_key TEXT,"
        " secret TEXT,"
        " username TEXT,"
        " password_hash TEXT,"
        " public_url TEXT,"
        " created_at BIGINT NOT NULL,"
        " PRIMARY KEY (app_id, integration_id),"
        f" FOREIGN KEY (app_id, channel_id) REFERENCES channels (app_id, channel_id)){clustered}",
        "CREATE INDEX integrations_by_id ON integrations (integration_id)",
        "CREATE TABLE room_events ("
        " app_id TEXT NOT NULL,"
        " event_id TEXT NOT NULL,"
        " room_key TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL,"
        f" body {blob} NOT NULL,"
        f" PRIMARY KEY (app_id, event_id)){clustered}",
        "CREATE INDEX room_events_by_room ON room_events (app_id, room_key)",
        "CREATE TABLE rooms ("
        " app_id TEXT NOT NULL,"
        " room_key TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " sessions TEXT NOT NULL,"
        f" PRIMARY KEY (app_id, room_key)){clustered}",
    ]
