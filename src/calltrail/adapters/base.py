"""The contract every inbound adapter implements.

An adapter receives a :class:`HookRequest` (the raw request as it arrived) and the
:class:`Credentials` of the integration it was sent to. ``POST /hooks/{integrationId}``:

1. authenticates first: HTTP Basic for ``auth == "basic"`` (checked by the endpoint against the
   stored hash), or :meth:`Adapter.verify` for ``auth == "signature"``; a failure raises
   :class:`~calltrail.kernel.errors.HookUnauthorized` and nothing else is read;
2. calls :meth:`Adapter.translate`, which raises
   :class:`~calltrail.kernel.errors.InvalidRequest` naming what is wrong for a malformed payload,
   and otherwise returns native events as plain JSON-shaped dicts: the event schema of
   ``POST /v3/calls/events`` (docs/events.md) for ``domain == "sessions"``, Bird status events
   (docs/bird-voice-api.md) for ``domain == "voice"``;
3. ingests those events through the event log (validated by the domain's own parser).

Translations must be pure functions of the payload: the event ids are the provider's event ids or
keys derived from the payload, so a redelivery changes nothing and the record is a function of the
set of payloads received, whatever their order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from calltrail.kernel.errors import HookUnauthorized

Domain = Literal["sessions", "voice"]
AuthKind = Literal["basic", "signature"]


@dataclass(frozen=True, slots=True)
class HookRequest:
    """A webhook request as it arrived. ``headers`` have lower-case names; ``url`` is the URL the
    provider called (the integration's public URL when one is configured, else as received)."""

    url: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``application/json``)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an integration authenticates with. ``api_key``/``secret`` are the provider's own
    (LiveKit's API key and secret, Twilio's auth token as ``secret``): signature checks need the
    secret itself, so it is stored as given."""

    api_key: str | None = None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """Native events to ingest, and how many provider events Calltrail does not use."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0


class Adapter(Protocol):
    """One provider."""

    #: The ``--provider`` name (``livekit``, ``janus``...).
    provider: str
    #: Which call domain its events feed.
    domain: Domain
    #: ``basic``: HTTP Basic with generated credentials; ``signature``: :meth:`verify`.
    auth: AuthKind

    def verify(self, request: HookRequest, credentials: Credentials) -> None:
        """Raise :class:`~calltrail.kernel.errors.HookUnauthorized` unless the request carries
        the provider's valid signature (only called when ``auth == "signature"``)."""
        ...

    def translate(self, request: HookRequest) -> Translation:
        """The native events the payload means; raise
        :class:`~calltrail.kernel.errors.InvalidRequest` for a malformed payload."""
        ...


class BasicAuthAdapter:
    """Base of the providers that send the generated HTTP Basic credentials, which the endpoint
    checks against the stored hash before anything else. They sign nothing, so :meth:`verify`
    refuses: a caller that confuses the two kinds of authentication fails closed."""

    auth: AuthKind = "basic"

    def verify(self, request: HookRequest, credentials: Credentials) -> None:
        """Always :class:`HookUnauthorized` (Basic credentials are not a signature)."""
        raise HookUnauthorized()
