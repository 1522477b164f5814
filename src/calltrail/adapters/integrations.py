"""Integrations: one provider connected to one app (and, for phone calls, one channel).

Pure (the only outside input is randomness for ids and passwords). :func:`new_integration`
checks what ``calltrail integrations create`` was given against what the provider needs and
generates the credentials Calltrail hands out; :func:`check_basic` and :func:`credentials` are
what ``POST /hooks/{integrationId}`` authenticates with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from calltrail.adapters.base import Credentials
from calltrail.adapters.registry import ADAPTERS
from calltrail.kernel.errors import HookUnauthorized, InvalidRequest
from calltrail.kernel.instants import now_ms

#: What each signature provider must be given (beyond the app): the names of the CLI options.
REQUIRED = {"livekit": ("api_key", "secret"), "twilio": ("secret",)}
MAX_SECRET = 512


@dataclass(frozen=True, slots=True)
class Integration:
    """A stored integration. ``secret`` and ``password_hash`` never leave the server."""

    app_id: str
    integration_id: str
    provider: str
    channel_id: str | None
    api_key: str | None
    secret: str | None
    username: str | None
    password_hash: str | None
    public_url: str | None
    created_at_ms: int

    @property
    def path(self) -> str:
        """Where the provider posts."""
        return f"/hooks/{self.integration_id}"

    def summary(self) -> dict[str, object]:
        """What ``calltrail integrations list`` shows: never a secret."""
        shown: dict[str, object] = {
            "integrationId": self.integration_id,
            "provider": self.provider,
            "appId": self.app_id,
        }
        if self.channel_id is not None:
            shown["channelId"] = self.channel_id
        shown["path"] = self.path
        if self.username is not None:
            shown["username"] = self.username
        if self.api_key is not None:
            shown["apiKey"] = self.api_key
        if self.public_url is not None:
            shown["publicUrl"] = self.public_url
        return shown


def hash_password(password: str) -> str:
    """The stored form of a generated password (high entropy: a fast hash suffices)."""
    return hashlib.sha256(password.encode()).hexdigest()


def new_integration(
    app_id: str,
    provider: str,
    *,
    channel_id: str | None = None,
    api_key: str | None = None,
    secret: str | None = None,
    public_url: str | None = None,
) -> tuple[Integration, str | None]:
    """A new integration and, for Basic-auth providers, its generated password (shown once).

    Raises :class:`InvalidRequest` naming each option that is missing, not allowed or invalid.
    """
    adapter = ADAPTERS.get(provider)
    if adapter is None:
        raise InvalidRequest(details={"provider": [f"must be one of {', '.join(sorted(ADAPTERS))}"]})
    given = {"api_key": api_key, "secret": secret}
    problems: dict[str, list[str]] = {}
    for name in REQUIRED.get(provider, ()):
        value = given[name]
        if not value or len(value) > MAX_SECRET or not value.isprintable():
            problems[name] = [f"is required for {provider}: 1-{MAX_SECRET} printable characters"]
    for name, value in given.items():
        if value is not None and name not in REQUIRED.get(provider, ()):
            problems[name] = [f"is not used by {provider}"]
    if adapter.domain == "voice" and channel_id is None:
        problems["channel"] = [f"is required for {provider}: the channel its calls belong to"]
    if adapter.domain != "voice" and channel_id is not None:
        problems["channel"] = [f"is not used by {provider}: its calls are in-app calls, not a channel's"]
    if public_url is not None and (provider != "twilio" or not _is_http_url(public_url)):
        problems["public_url"] = [
            "is the base URL Twilio calls (https://host[:port][/prefix]), for twilio only"
            if provider == "twilio"
            else f"is not used by {provider}"
        ]
    if problems:
        raise InvalidRequest("The integration is invalid.", problems)
    password = secrets.token_urlsafe(24) if adapter.auth == "basic" else None
    integration = Integration(
        app_id=app_id,
        integration_id=str(uuid.uuid4()),
        provider=provider,
        channel_id=channel_id,
        api_key=api_key,
        secret=secret,
        username=f"calltrail-{secrets.token_hex(4)}" if password else None,
        password_hash=hash_password(password) if password else None,
        public_url=public_url.rstrip("/") if public_url else None,
        created_at_ms=now_ms(),
    )
    return integration, password


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.query and not parts.fragment


def check_basic(integration: Integration, header: str | None) -> None:
    """Raise :class:`HookUnauthorized` unless ``header`` is ``Basic`` with the integration's
    username and password (compared in constant time)."""
    scheme, _, encoded = (header or "").partition(" ")
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise HookUnauthorized() from None
    if scheme.lower() != "basic" or integration.username is None or integration.password_hash is None:
        raise HookUnauthorized()
    same_user = hmac.compare_digest(username.encode(), integration.username.encode())
    same_password = hmac.compare_digest(hash_password(password), integration.password_hash)
    if not (same_user and same_password):
        raise HookUnauthorized()


def credentials(integration: Integration) -> Credentials:
    """What a signature provider's :meth:`~calltrail.adapters.base.Adapter.verify` checks against."""
    return Credentials(api_key=integration.api_key, secret=integration.secret)


def hook_url(integration: Integration, received: str) -> str:
    """The URL the provider signed: the configured public URL + the hook path, else as received."""
    if integration.public_url:
        return integration.public_url + integration.path
    return received
