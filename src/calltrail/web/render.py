"""HTML rendering: the Jinja2 environment (autoescaped), the display formats, the static assets.

Templates are compiled once, when the app is built. Static assets (one CSS file, one script,
an icon) are read into memory at start-up and served with a content hash in their URL, so
browsers cache them for a year and never use a stale one.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import math
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Asset:
    """One static file, held in memory."""

    body: bytes
    media_type: str
    digest: str


def load_assets() -> dict[str, Asset]:
    """Every file of ``calltrail/web/static`` by name."""
    assets: dict[str, Asset] = {}
    for entry in importlib.resources.files("calltrail.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in MEDIA_TYPES:
            body = entry.read_bytes()
            assets[entry.name] = Asset(body, MEDIA_TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])
    return assets


def thousands(value: int | float) -> str:
    """``1,234``: counts as people read them."""
    return f"{value:,.0f}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def when(seconds: object, tz: zoneinfo.ZoneInfo) -> str:
    """``2026-05-01 12:00:04`` in the viewer's zone ("" for anything but an instant)."""
    if not _is_number(seconds):
        return ""
    assert isinstance(seconds, int | float)
    return datetime.fromtimestamp(seconds, tz).strftime("%Y-%m-%d %H:%M:%S")


def clock(seconds: float, tz: zoneinfo.ZoneInfo) -> str:
    """``12:00:04`` in the viewer's zone."""
    return datetime.fromtimestamp(seconds, tz).strftime("%H:%M:%S")


def minutes(value: object) -> str:
    """Decimal minutes with two decimals (``0.48``); "" for anything but a number."""
    if not _is_number(value):
        return ""
    assert isinstance(value, int | float)
    return f"{value:,.2f}"


def hms(seconds: object) -> str:
    """``1:02:03`` or ``2:03`` for a duration in seconds ("" for anything but a number)."""
    if not _is_number(seconds):
        return ""
    assert isinstance(seconds, int | float)
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"


def environment(assets: dict[str, Asset]) -> jinja2.Environment:
    """The template environment: autoescape on for every template. A record's absent field is
    undefined (falsy, rendered as nothing), as an absent field is in the API's JSON."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("calltrail.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def static(name: str) -> str:
        return f"/static/{name}?v={assets[name].digest}"

    env.globals["static"] = static
    env.filters.update(thousands=thousands, minutes=minutes, hms=hms)
    return env


def render(env: jinja2.Environment, template: str, context: dict[str, Any]) -> str:
    """A template rendered with ``context``."""
    return env.get_template(template).render(context)


__all__ = ["Asset", "clock", "environment", "hms", "load_assets", "minutes", "render", "thousands", "when"]
