"""Runtime settings, read from ``CALLTRAIL_*`` environment variables.

Passed explicitly to whatever needs them; nothing reads the environment behind your back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

DEFAULT_DB = "sqlite:///./calltrail.db"


@dataclass(frozen=True)
class Settings:
    """Every setting, with its environment variable and help text (see docs/configuration.md)."""

    db: str = field(
        default=DEFAULT_DB,
        metadata={
            "env": "CALLTRAIL_DB",
            "help": "Database URL: "
            "sqlite:///relative/path, sqlite:////absolute/path or postgresql://user@host:port/db.",
        },
    )
    cors_origins: tuple[str, ...] = field(
        default=("*",),
        metadata={
            "env": "CALLTRAIL_CORS_ORIGINS",
            "help": "Comma-separated origins browsers may call from; * allows any.",
        },
    )
    rate_limit: float = field(
        default=200.0,
        metadata={
            "env": "CALLTRAIL_RATE_LIMIT",
            "help": "Requests per second each API key or user token may make, per server process "
            "(a token bucket); 0 turns rate limiting off.",
        },
    )
    rate_burst: int = field(
        default=400,
        metadata={
            "env": "CALLTRAIL_RATE_BURST",
            "help": "How many requests a credential may make at once before CALLTRAIL_RATE_LIMIT applies.",
        },
    )
    max_in_flight: int = field(
        default=32,
        metadata={
            "env": "CALLTRAIL_MAX_IN_FLIGHT",
            "help": "Requests one server process works on at once; beyond it, an immediate 503 with "
            "Retry-After (load shedding). /healthz and /metrics are never shed.",
        },
    )
    metrics_token: str | None = field(
        default=None,
        metadata={
            "env": "CALLTRAIL_METRICS_TOKEN",
            "help": "When set, GET /metrics needs `Authorization: Bearer <token>`; otherwise it is open.",
        },
    )
    webhooks_allow_private: bool = field(
        default=False,
        metadata={
            "env": "CALLTRAIL_WEBHOOKS_ALLOW_PRIVATE",
            "help": "1 lets webhooks go to loopback, private and link-local addresses (refused by default).",
        },
    )
    webhooks_timeout: float = field(
        default=10.0,
        metadata={"env": "CALLTRAIL_WEBHOOKS_TIMEOUT", "help": "Seconds a receiver has to answer a webhook."},
    )
    webhooks_retry_scale: float = field(
        default=1.0,
        metadata={
            "env": "CALLTRAIL_WEBHOOKS_RETRY_SCALE",
            "help": "Multiplies every webhook retry delay (below 1 retries sooner; for testing receivers).",
        },
    )
    webhooks_lease: float = field(
        default=60.0,
        metadata={
            "env": "CALLTRAIL_WEBHOOKS_LEASE",
            "help": "Seconds a dead server's webhook work stays claimed before another server takes it over.",
        },
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); unset variables keep defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = environ.get(item.metadata["env"])
            if raw is None or raw == "":
                continue
            if item.name == "cors_origins":
                values[item.name] = tuple(origin.strip() for origin in raw.split(",") if origin.strip())
            elif item.type == "bool":
                values[item.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif item.type in ("int", "float"):
                values[item.name] = _number(item.metadata["env"], raw, int if item.type == "int" else float)
            else:
                values[item.name] = raw
        return cls(**values)  # type: ignore[arg-type]


def _number(env: str, raw: str, kind: type[int] | type[float]) -> int | float:
    """A non-negative number from an environment variable; a clear error otherwise."""
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{env} must be a {'whole ' if kind is int else ''}number, not {raw!r}") from None
    if value < 0 or value != value:  # negative or NaN
        raise ValueError(f"{env} must not be negative, not {raw!r}")
    return value
