"""Keyset cursors and page tokens: opaque, tamper-evident, bound to the query that issued them.

Pure: no I/O (the secret is passed in). A :class:`Cursor` is the sort key of the last item a
page showed (a position such as ``createdAt`` in epoch ms, and the item's id to break ties), so
the next page starts strictly after it and costs the same however deep it is. A token is
``<payload>.<mac>``, both URL-safe base64 without padding, so it needs no escaping in a query
string::

    payload = JSON [1, <position of the last item shown>, "<its id>", "<binding>"]
    binding = first 16 bytes of SHA-256(app id, query fingerprint)    (base64)
    mac     = first 16 bytes of HMAC-SHA256(server secret, payload)

Bird's own tokens are base64 of ``[createdAt, id]``, the same position. The MAC makes tokens
tamper-evident; the binding makes a token valid only for the app, channel scope and filters it
was issued for (the page size may change between pages). Any server sharing the database shares
the secret, so any of them can continue a walk. Tokens do not expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from calltrail.kernel.errors import InvalidRequest

VERSION = 1
_B64 = re.compile(r"^[A-Za-z0-9_-]+\Z")
INVALID = "is not a valid page token: pass the nextPageToken of the previous page unchanged"
FOREIGN = "was issued for a different query: repeat the filters (and channel) that produced it"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last item shown: the next page starts strictly after it."""

    position: int
    key: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64.match(text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def binding(app_id: str, fingerprint: bytes) -> str:
    """What a token is bound to: the app and the query's canonical encoding (16 bytes, base64)."""
    digest = hashlib.sha256(orjson.dumps(app_id) + b"\n" + fingerprint).digest()
    return _b64(digest[:16])


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:16]


def encode(cursor: Cursor, *, secret: bytes, bound_to: str) -> str:
    """The token that continues a listing after ``cursor``."""
    payload = orjson.dumps([VERSION, cursor.position, cursor.key, bound_to])
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def decode(token: str, *, secret: bytes, bound_to: str, valid_key: Callable[[str], bool] = bool) -> Cursor:
    """The cursor in ``token``; raises :class:`InvalidRequest` (on ``pageToken``) if the token
    was altered, forged, issued by a server with another secret, or issued for another query.
    ``valid_key`` checks the id's form (a defence in depth: the MAC already vouches for it)."""
    try:
        payload_text, mac_text = token.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise InvalidRequest("Invalid page token.", {"pageToken": [INVALID]}) from None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise InvalidRequest("Invalid page token.", {"pageToken": [INVALID]})
    try:
        version, position, key, issued_for = orjson.loads(payload)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        raise InvalidRequest("Invalid page token.", {"pageToken": [INVALID]}) from None
    if (
        version != VERSION
        or type(position) is not int
        or not isinstance(key, str)
        or not valid_key(key)
        or not isinstance(issued_for, str)
    ):
        raise InvalidRequest("Invalid page token.", {"pageToken": [INVALID]})
    if not hmac.compare_digest(issued_for, bound_to):
        raise InvalidRequest("Page token for another query.", {"pageToken": [FOREIGN]})
    return Cursor(position, key)
