"""Tenants (apps) and their API keys: the rules their identifiers and settings follow.

Pure: no I/O (a new app's id is random). Stores take values these functions have checked; they
never validate input themselves.
"""

from __future__ import annotations

import re
import secrets

from calltrail.kernel.errors import InvalidRequest

REGIONS = ("us", "eu", "in")
SCOPES = ("fullAccess", "authOnly")
MAX_NAME = 100
#: App ids: 1-100 characters of letters, digits, dot, underscore and hyphen.
APP_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}\Z")
APP_ID_RULE = "must be 1-100 characters of letters, digits, '.', '_' and '-'"


def is_app_id(value: object) -> bool:
    """True for a well-formed app id."""
    return isinstance(value, str) and APP_ID_PATTERN.match(value) is not None


def check_name(name: str, field: str = "name") -> str:
    """A display name: 1-100 characters, not blank."""
    if not 1 <= len(name) <= MAX_NAME or not name.strip():
        raise InvalidRequest(details={field: [f"must be 1-{MAX_NAME} characters, not blank"]})
    return name


def new_app_settings(name: str, app_id: str | None = None, region: str = "us") -> tuple[str, str, str]:
    """``(name, app id, region)`` of a new app, checked; a random 14-hex-digit id is chosen
    when ``app_id`` is None. Raises :class:`InvalidRequest` naming each bad value."""
    check_name(name)
    if app_id is None:
        app_id = secrets.token_hex(7)
    elif not is_app_id(app_id):
        raise InvalidRequest(details={"id": [APP_ID_RULE]})
    if region not in REGIONS:
        raise InvalidRequest(details={"region": [f"must be one of {', '.join(REGIONS)}"]})
    return name, app_id, region


def new_key_settings(scope: str = "fullAccess", name: str | None = None) -> tuple[str, str]:
    """``(scope, name)`` of a new API key, checked, with the default name for its scope."""
    if scope not in SCOPES:
        raise InvalidRequest(details={"scope": [f"must be one of {', '.join(SCOPES)}"]})
    name = name if name is not None else ("REST API Key" if scope == "fullAccess" else "Auth Key")
    return scope, check_name(name)


def key_reference(text: str) -> str:
    """A key named by its prefix or key id (as ``calltrail keys list`` shows them): at least 6
    hex digits, lower-cased. Raises :class:`InvalidRequest` naming ``key``."""
    wanted = text.lower()
    if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
        raise InvalidRequest(details={"key": ["must be at least 6 hex digits of a key's prefix or key id"]})
    return wanted
