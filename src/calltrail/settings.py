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
            else:
                values[item.name] = raw
        return cls(**values)  # type: ignore[arg-type]
