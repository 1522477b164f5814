"""Credential checks shared by every API dialect: which app (and scope) a request speaks for.

Dialects read the credential from their own header (``apikey``, ``Authorization: AccessKey``)
and call these; errors are the classes of :mod:`calltrail.kernel.errors`, rendered by each dialect.
"""

from __future__ import annotations

from calltrail.api.context import note_app
from calltrail.kernel.errors import InvalidRequest, MissingApiKey, NoAccess, UnknownApiKey
from calltrail.sessions.vocabulary import ENTITY_ID_RULE, is_entity_id
from calltrail.store import Stores
from calltrail.store.tenants import ApiKey

MAX_KEY_LENGTH = 200


def authenticate_key(stores: Stores, secret: str | None, *, full_access: bool = True) -> ApiKey:
    """The API key a request presents; raises unless it exists (and has ``fullAccess``)."""
    if not secret:
        raise MissingApiKey()
    key = stores.tenants.find_key(secret) if len(secret) <= MAX_KEY_LENGTH else None
    if key is None:
        raise UnknownApiKey()
    note_app(key.app_id)
    if full_access and key.scope != "fullAccess":
        raise NoAccess()
    return key


def acting_user(header: str | None, name: str = "onBehalfOf") -> str | None:
    """The uid in an ``onBehalfOf``-style header, None when absent; 400 when malformed."""
    if header is None:
        return None
    if not is_entity_id(header):
        raise InvalidRequest(details={name: [ENTITY_ID_RULE]})
    return header
