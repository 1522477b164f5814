"""Users, groups and auth tokens: what the user view needs beyond the calls themselves.

Profiles are optional display data (a name and an avatar or icon) keyed by the ids calls use.
Auth tokens let one user read their own call history without the app's REST key.

Token format: ``<appId>_<40 hex digits>``. The app id is part of the token so that it is looked
up by the table's primary key ``(app_id, token_hash)``: no query ever crosses tenants. Only
the SHA-256 hash of the whole token is stored (tokens are high-entropy secrets, so a fast hash
is enough), which is why a token is shown once, at creation, and can never be shown again.
A user keeps at most :data:`MAX_TOKENS_PER_USER` valid tokens; creating one more is refused
(:class:`~calltrail.kernel.errors.AuthTokenLimit`) until one is revoked, rather than revoking the
oldest, which would silently sign the user out wherever that token is used.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from calltrail.kernel.errors import AuthTokenLimit, AuthTokenNotFound
from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import is_app_id
from calltrail.store.database import CHUNK, Connection, Database, chunks, placeholders
from calltrail.store.tenants import hash_secret

MAX_TOKENS_PER_USER = 100
MAX_TOKEN_LENGTH = 200
TOKEN_ID_LENGTH = 16
_SECRET = re.compile(r"^[0-9a-f]{40}$")
_TOKEN_ID = re.compile(rf"^[0-9a-f]{{{TOKEN_ID_LENGTH}}}$")


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A user's display profile."""

    uid: str
    name: str
    avatar: str | None
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class GroupProfile:
    """A group's display profile."""

    guid: str
    name: str
    icon: str | None
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class AuthToken:
    """A stored auth token (its secret is not kept). ``token_id`` is a public handle."""

    app_id: str
    uid: str
    token_id: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class ViewerFlags:
    """How one call looks to one user, from the per-user call index."""

    is_initiator: bool
    missed: bool


@dataclass(frozen=True)
class PageContext:
    """Everything a page of the user view needs besides the records, read in one transaction."""

    flags: dict[str, ViewerFlags] = field(default_factory=dict)
    users: dict[str, UserProfile] = field(default_factory=dict)
    groups: dict[str, GroupProfile] = field(default_factory=dict)


def token_app(token: str) -> str | None:
    """The app id a well-formed token names, or None when it cannot be one of ours."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    app_id, _, secret = token.rpartition("_")
    if not _SECRET.match(secret) or not is_app_id(app_id):
        return None
    return app_id


def token_id_of(token: str) -> str:
    """The public handle of a token: the first digits of its hash (reveals nothing usable)."""
    return hash_secret(token)[:TOKEN_ID_LENGTH]


def is_token_id(value: str) -> bool:
    """True when ``value`` has the form of a token handle (not of a token)."""
    return _TOKEN_ID.match(value) is not None


_UPSERT_USER = (
    "INSERT INTO user_profiles (app_id, uid, name, avatar, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (app_id, uid) DO UPDATE SET name = excluded.name, avatar = excluded.avatar, "
    "updated_at = excluded.updated_at"
)
_UPSERT_GROUP = (
    "INSERT INTO group_profiles (app_id, guid, name, icon, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (app_id, guid) DO UPDATE SET name = excluded.name, icon = excluded.icon, "
    "updated_at = excluded.updated_at"
)


class UserStore:
    """Profiles and auth tokens of every app in one database. Inputs are validated by callers."""

    def __init__(self, db: Database):
        self.db = db

    # -- profiles -------------------------------------------------------------------------

    def put_users(self, app_id: str, profiles: Sequence[tuple[str, str, str | None]]) -> None:
        """Create or replace ``(uid, name, avatar)`` profiles in one transaction."""
        now = now_ms()
        with self.db.write() as conn:
            conn.executemany(_UPSERT_USER, ((app_id, uid, name, avatar, now, now) for uid, name, avatar in profiles))

    def put_groups(self, app_id: str, profiles: Sequence[tuple[str, str, str | None]]) -> None:
        """Create or replace ``(guid, name, icon)`` profiles in one transaction."""
        now = now_ms()
        with self.db.write() as conn:
            conn.executemany(_UPSERT_GROUP, ((app_id, guid, name, icon, now, now) for guid, name, icon in profiles))

    def put_user(self, app_id: str, uid: str, name: str, avatar: str | None) -> UserProfile:
        """Create or replace one user's profile; returns it as stored."""
        now = now_ms()
        with self.db.write() as conn:
            conn.execute(_UPSERT_USER, (app_id, uid, name, avatar, now, now))
            users, _ = self._profiles(conn, app_id, [uid], [])
        return users[uid]

    def put_group(self, app_id: str, guid: str, name: str, icon: str | None) -> GroupProfile:
        """Create or replace one group's profile; returns it as stored."""
        now = now_ms()
        with self.db.write() as conn:
            conn.execute(_UPSERT_GROUP, (app_id, guid, name, icon, now, now))
            _, groups = self._profiles(conn, app_id, [], [guid])
        return groups[guid]

    def get_user(self, app_id: str, uid: str) -> UserProfile | None:
        """One user's profile, or None."""
        with self.db.read() as conn:
            users, _ = self._profiles(conn, app_id, [uid], [])
        return users.get(uid)

    def get_group(self, app_id: str, guid: str) -> GroupProfile | None:
        """One group's profile, or None."""
        with self.db.read() as conn:
            _, groups = self._profiles(conn, app_id, [], [guid])
        return groups.get(guid)

    @staticmethod
    def _profiles(
        conn: Connection, app_id: str, uids: Sequence[str], guids: Sequence[str]
    ) -> tuple[dict[str, UserProfile], dict[str, GroupProfile]]:
        """Users and groups by id: one statement per :data:`CHUNK` ids (one for any normal page)."""
        users: dict[str, UserProfile] = {}
        groups: dict[str, GroupProfile] = {}
        uid_parts = list(chunks(uids, CHUNK)) or [[]]
        guid_parts = list(chunks(guids, CHUNK)) or [[]]
        for index in range(max(len(uid_parts), len(guid_parts))):
            part_u = uid_parts[index] if index < len(uid_parts) else []
            part_g = guid_parts[index] if index < len(guid_parts) else []
            selects, params = [], []
            if part_u:
                selects.append(
                    "SELECT 'u', uid, name, avatar, created_at, updated_at FROM user_profiles "
                    f"WHERE app_id = ? AND uid IN ({placeholders(len(part_u))})"
                )
                params += [app_id, *part_u]
            if part_g:
                selects.append(
                    "SELECT 'g', guid, name, icon, created_at, updated_at FROM group_profiles "
                    f"WHERE app_id = ? AND guid IN ({placeholders(len(part_g))})"
                )
                params += [app_id, *part_g]
            if not selects:
                continue
            for kind, key, name, image, created, updated in conn.fetchall(" UNION ALL ".join(selects), params):
                if kind == "u":
                    users[key] = UserProfile(key, name, image, int(created), int(updated))
                else:
                    groups[key] = GroupProfile(key, name, image, int(created), int(updated))
        return users, groups

    def page_context(
        self, app_id: str, viewer: str, session_ids: Sequence[str], uids: Iterable[str], guids: Iterable[str]
    ) -> PageContext:
        """For one page of the user view: the viewer's flags on each call (from the call index
        that also answers ``status=missed``, so the two always agree) and the profiles the
        page mentions. Two statements, one snapshot, whatever the page size."""
        unique_uids = sorted(set(uids))
        unique_guids = sorted(set(guids))
        flags: dict[str, ViewerFlags] = {}
        with self.db.read() as conn:
            for part in chunks(session_ids, CHUNK):
                for session_id, is_initiator, missed in conn.fetchall(
                    "SELECT session_id, is_initiator, missed FROM call_members "
                    f"WHERE app_id = ? AND uid = ? AND session_id IN ({placeholders(len(part))})",
                    (app_id, viewer, *part),
                ):
                    flags[session_id] = ViewerFlags(bool(is_initiator), bool(missed))
            users, groups = self._profiles(conn, app_id, unique_uids, unique_guids)
        return PageContext(flags, users, groups)

    # -- auth tokens ----------------------------------------------------------------------

    def create_token(self, app_id: str, uid: str) -> tuple[str, AuthToken]:
        """Create a token for a user; returns ``(token, stored token)``. The token is never
        stored. Raises :class:`AuthTokenLimit` when the user has :data:`MAX_TOKENS_PER_USER`."""
        token = f"{app_id}_{secrets.token_hex(20)}"
        token_hash = hash_secret(token)
        with self.db.write() as conn:
            # One writer per user at a time, so the count below sees every token of the user.
            conn.lock_keys([f"{app_id}/auth_tokens/{uid}"])
            row = conn.fetchone(
                "SELECT max(created_at), count(*) FROM auth_tokens WHERE app_id = ? AND uid = ?",
                (app_id, uid),
            )
            if row and int(row[1]) >= MAX_TOKENS_PER_USER:
                raise AuthTokenLimit(
                    f"The user {uid!r} has {MAX_TOKENS_PER_USER} auth tokens, the most allowed: revoke one "
                    "(DELETE /v3/users/{uid}/auth_tokens/{tokenId}) before creating another."
                )
            latest = int(row[0]) if row and row[0] is not None else 0
            created = max(now_ms(), latest + 1)
            stored = AuthToken(app_id, uid, token_hash[:TOKEN_ID_LENGTH], created)
            conn.execute(
                "INSERT INTO auth_tokens (app_id, token_hash, token_id, uid, created_at) VALUES (?, ?, ?, ?, ?)",
                (app_id, token_hash, stored.token_id, uid, created),
            )
        return token, stored

    def find_token(self, token: str) -> AuthToken | None:
        """The stored token a request presents, or None (unknown, revoked or malformed)."""
        app_id = token_app(token)
        if app_id is None:
            return None
        with self.db.read() as conn:
            row = conn.fetchone(
                "SELECT uid, token_id, created_at FROM auth_tokens WHERE app_id = ? AND token_hash = ?",
                (app_id, hash_secret(token)),
            )
        return AuthToken(app_id, row[0], row[1], int(row[2])) if row else None

    def list_tokens(self, app_id: str, uid: str, offset: int, limit: int) -> tuple[int, list[AuthToken]]:
        """``(total, tokens)``: one page of a user's valid tokens, newest first."""
        with self.db.read() as conn:
            (total,) = conn.fetchone(
                "SELECT count(*) FROM auth_tokens WHERE app_id = ? AND uid = ?", (app_id, uid)
            ) or (0,)
            rows = conn.fetchall(
                "SELECT token_id, created_at FROM auth_tokens WHERE app_id = ? AND uid = ? "
                "ORDER BY created_at DESC LIMIT ? OFFSET ?",
                (app_id, uid, limit, offset),
            )
        return int(total), [AuthToken(app_id, uid, token_id, int(created)) for token_id, created in rows]

    def revoke_token(self, app_id: str, uid: str, token_or_id: str) -> None:
        """Revoke one of a user's tokens, named by the token itself or by its ``token_id``.

        Raises :class:`AuthTokenNotFound` when the user has no such token.
        """
        if is_token_id(token_or_id):
            sql = "DELETE FROM auth_tokens WHERE app_id = ? AND uid = ? AND token_id = ?"
            key = token_or_id
        else:
            sql = "DELETE FROM auth_tokens WHERE app_id = ? AND uid = ? AND token_hash = ?"
            key = hash_secret(token_or_id)
        with self.db.write() as conn:
            cursor = conn.execute(sql, (app_id, uid, key))
            deleted = cursor.rowcount
        if not deleted:
            raise AuthTokenNotFound(f"The user {uid!r} has no such auth token.")

    def revoke_tokens(self, app_id: str, uid: str) -> int:
        """Revoke every token of a user; returns how many there were."""
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM auth_tokens WHERE app_id = ? AND uid = ?", (app_id, uid))
            return int(cursor.rowcount)
