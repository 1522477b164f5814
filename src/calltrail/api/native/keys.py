"""The credential of a ``/api`` request: ``apikey: <key>`` or ``Authorization: Bearer <key>``."""

from __future__ import annotations

from starlette.requests import Request

from calltrail.api.auth import authenticate_key
from calltrail.kernel.errors import MissingApiKey
from calltrail.store import Stores
from calltrail.store.tenants import ApiKey


def presented_key(request: Request) -> str | None:
    """The key the request carries (``apikey`` first), or None; 401 for another scheme."""
    key = request.headers.get("apikey")
    if key:
        return key
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise MissingApiKey("Send the key as an `apikey` header or `Authorization: Bearer <key>`.")
    return secret.strip()


def authenticate(stores: Stores, request: Request) -> ApiKey:
    """The ``fullAccess`` key of the request (run inside the worker trip)."""
    return authenticate_key(stores, presented_key(request))
