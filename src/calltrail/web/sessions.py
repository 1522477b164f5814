"""Dashboard sessions: a signed cookie, its idle expiry and the CSRF tokens bound to it.

Pure: no I/O. The cookie holds ``{"n": nonce, "t": last seen (Unix s)}`` and, once signed in,
``"a"`` (the app id) and ``"k"`` (the SHA-256 hash of the API key, as ``api_keys`` stores it):
never the key itself. Every request re-checks that the key still exists, so deleting a key
ends its sessions at once. The MAC is HMAC-SHA256 under a key kept in the database
(``calltrail_secrets``, migration m0009), so any server of a deployment verifies any session.

A visitor who is not signed in still gets a cookie (with a nonce only): the sign-in form's CSRF
token is bound to it. Signing in and out replace the nonce, so a session id planted before
sign-in is worthless after it (no session fixation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any

import orjson

COOKIE = "calltrail_session"
#: A session unused for this long is signed out (the cookie's Max-Age too).
IDLE_SECONDS = 2 * 60 * 60
#: A cookie older than this is re-issued on the next page, sliding the idle window.
REFRESH_SECONDS = 60
MAX_COOKIE = 1024
_SESSION_CONTEXT = b"calltrail-dashboard-session\x00"
_CSRF_CONTEXT = b"calltrail-dashboard-csrf\x00"


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie says; ``app_id``/``key_hash`` are None for a visitor not signed in."""

    nonce: str
    seen: int
    app_id: str | None = None
    key_hash: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.app_id is not None and self.key_hash is not None

    def touched(self, now: int) -> Session:
        return replace(self, seen=now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_session(now: int, app_id: str | None = None, key_hash: str | None = None) -> Session:
    """A session with a fresh nonce."""
    return Session(secrets.token_urlsafe(18), now, app_id, key_hash)


def encode(session: Session, secret: bytes) -> str:
    """The cookie value: ``payload.mac``, both base64url."""
    fields: dict[str, Any] = {"n": session.nonce, "t": session.seen}
    if session.signed_in:
        fields |= {"a": session.app_id, "k": session.key_hash}
    payload = _b64(orjson.dumps(fields))
    mac = hmac.new(secret, _SESSION_CONTEXT + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def decode(value: str | None, secret: bytes, now: int) -> Session | None:
    """The session a cookie carries, or None when it is absent, forged, malformed or idle."""
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    expected = hmac.new(secret, _SESSION_CONTEXT + payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        fields = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(fields, dict):
        return None
    nonce, seen, app_id, key_hash = fields.get("n"), fields.get("t"), fields.get("a"), fields.get("k")
    if not isinstance(nonce, str) or not isinstance(seen, int) or isinstance(seen, bool):
        return None
    if not (isinstance(app_id, str) and isinstance(key_hash, str)):
        app_id = key_hash = None
    if not now - IDLE_SECONDS < seen <= now + 60:  # idle too long, or from the future
        return None
    return Session(nonce, seen, app_id, key_hash)


def csrf_token(session: Session, secret: bytes) -> str:
    """The token every state-changing form of this session carries."""
    return _b64(hmac.new(secret, _CSRF_CONTEXT + session.nonce.encode(), hashlib.sha256).digest())


def csrf_valid(session: Session | None, token: str | None, secret: bytes) -> bool:
    """True when ``token`` was issued for this session (constant-time comparison)."""
    if session is None or not token:
        return False
    return hmac.compare_digest(token.encode(), csrf_token(session, secret).encode())
