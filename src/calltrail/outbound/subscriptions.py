"""The rules of a webhook subscription's fields, for ``POST``/``PATCH /api/webhooks`` and the CLI.

Pure: the URL is checked for syntax here; whether its host may be reached is the guard's
business (:mod:`calltrail.outbound.guard`), at creation and before every attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calltrail.kernel.problems import Problems, has_control
from calltrail.outbound.events import EVENT_TYPES, WILDCARD
from calltrail.outbound.guard import url_problem

MAX_DESCRIPTION = 500
EVENTS_RULE = "must be a non-empty list of distinct event types: " + ", ".join((*EVENT_TYPES, WILDCARD))
DESCRIPTION_RULE = f"must be a string of at most {MAX_DESCRIPTION} characters without control characters"
CREATE_FIELDS = ("url", "events", "description")
PATCH_FIELDS = ("url", "events", "description", "enabled")


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A checked subscription to create."""

    url: str
    events: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Changes:
    """A checked ``PATCH``: the fields to change (None: unchanged)."""

    url: str | None = None
    events: tuple[str, ...] | None = None
    description: str | None = None
    enabled: bool | None = None


def _events(value: Any, problems: Problems) -> tuple[str, ...]:
    allowed = (*EVENT_TYPES, WILDCARD)
    if (
        not isinstance(value, list)
        or not value
        or len(value) > len(allowed)
        or not all(isinstance(item, str) and item in allowed for item in value)
        or len(set(value)) != len(value)
    ):
        problems.fail("events", EVENTS_RULE)
        return ()
    return tuple(value)


def _url(value: Any, problems: Problems) -> str:
    problem = url_problem(value)
    if problem is not None:
        problems.fail("url", problem)
        return ""
    return str(value)


def _description(value: Any, problems: Problems) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION or has_control(value):
        problems.fail("description", DESCRIPTION_RULE)
        return ""
    return value


def _unknown(body: Mapping[str, Any], known: tuple[str, ...], problems: Problems) -> None:
    for name in body:
        if name not in known:
            problems.fail(name, "is not a supported field")


def _object(body: Any, problems: Problems) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        problems.fail("body", "must be a JSON object")
        problems.raise_if_any()
    return body  # type: ignore[no-any-return]


def parse_new(body: Any) -> NewSubscription:
    """A ``POST`` body: ``url`` (required), ``events`` (default ``["*"]``), ``description``."""
    problems = Problems()
    fields = _object(body, problems)
    _unknown(fields, CREATE_FIELDS, problems)
    if "url" not in fields:
        problems.fail("url", "is required")
    url = _url(fields["url"], problems) if "url" in fields else ""
    events = _events(fields["events"], problems) if "events" in fields else (WILDCARD,)
    description = _description(fields.get("description", ""), problems)
    problems.raise_if_any()
    return NewSubscription(url, events, description)


def parse_changes(body: Any) -> Changes:
    """A ``PATCH`` body: any of ``url``, ``events``, ``description``, ``enabled``; at least one."""
    problems = Problems()
    fields = _object(body, problems)
    _unknown(fields, PATCH_FIELDS, problems)
    if not fields:
        problems.fail("body", "must change at least one of " + ", ".join(PATCH_FIELDS))
    enabled = fields.get("enabled")
    if "enabled" in fields and not isinstance(enabled, bool):
        problems.fail("enabled", "must be true or false")
    changes = Changes(
        url=_url(fields["url"], problems) if "url" in fields else None,
        events=_events(fields["events"], problems) if "events" in fields else None,
        description=_description(fields["description"], problems) if "description" in fields else None,
        enabled=enabled if isinstance(enabled, bool) else None,
    )
    problems.raise_if_any()
    return changes
