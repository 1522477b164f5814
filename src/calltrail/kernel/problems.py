"""The validation-problem collector and the primitive validators every schema is built from.

Pure: no I/O. A :class:`Problems` collects ``path -> [reasons]`` for one request, so a client
learns about all its mistakes at once; :meth:`Problems.raise_if_any` turns them into one
:class:`~calltrail.kernel.errors.InvalidRequest`. A *validator* is a function
``(value, problems, path) -> None`` that records what is wrong with ``value`` under ``path``;
the constructors below (:func:`text`, :func:`choice`, :func:`obj`, :func:`array`...) build them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from calltrail.kernel.errors import Details, InvalidRequest
from calltrail.kernel.instants import MAX_MS, MIN_MS, parse_rfc3339


class Problems:
    """Collects ``path -> [reasons]`` for one request; paths get ``prefix`` in front.

    Several collectors may share one ``errors`` dict (one per event of a batch, each with its
    own prefix such as ``events[3].``)."""

    def __init__(self, errors: Details | None = None, prefix: str = ""):
        self.errors: Details = errors if errors is not None else {}
        self.prefix = prefix

    def fail(self, path: str, reason: str) -> None:
        """Record that the value at ``path`` is invalid, and why."""
        self.errors.setdefault(f"{self.prefix}{path}", []).append(reason)

    def within(self, prefix: str) -> Problems:
        """A collector writing into the same errors under a longer prefix."""
        return Problems(self.errors, self.prefix + prefix)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, message: str | None = None) -> None:
        """Raise :class:`InvalidRequest` naming every problem, if there is one."""
        if self.errors:
            raise InvalidRequest(message, self.errors)


Validator = Callable[[Any, Problems, str], None]

#: C0 control characters and DEL: never part of an id, a name, a number or a filter (PostgreSQL
#: cannot even store U+0000 in a text column, so SQLite and PostgreSQL would disagree).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_RULE = "must not contain control characters (U+0000-U+001F, U+007F)"


def has_control(value: str) -> bool:
    """True when ``value`` contains a C0 control character or DEL."""
    return _CONTROL.search(value) is not None


def is_whole(value: object, upper: int) -> bool:
    """A JSON whole number (not a boolean) between 0 and ``upper``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= upper


def text(max_length: int, min_length: int = 0) -> Validator:
    """A string of ``min_length``..``max_length`` characters, without control characters."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if not isinstance(value, str) or not min_length <= len(value) <= max_length:
            problems.fail(path, f"must be a string of {min_length}-{max_length} characters")
        elif has_control(value):
            problems.fail(path, CONTROL_RULE)

    return check


def choice(options: tuple[str, ...]) -> Validator:
    """One of ``options``."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if value not in options:
            problems.fail(path, f"must be one of {', '.join(options)}")

    return check


def integer(upper: int) -> Validator:
    """A whole number between 0 and ``upper``."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if not is_whole(value, upper):
            problems.fail(path, f"must be a whole number between 0 and {upper}")

    return check


def boolean(value: Any, problems: Problems, path: str) -> None:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        problems.fail(path, "must be true or false")


def rfc3339(value: Any, problems: Problems, path: str) -> None:
    """An RFC 3339 date-time string with a zone, between 1970 and 9999."""
    if not isinstance(value, str):
        problems.fail(path, "must be an RFC 3339 date-time string, e.g. 2023-10-26T15:26:46.543Z")
        return
    try:
        millis = parse_rfc3339(value)
    except ValueError as exc:
        problems.fail(path, str(exc))
        return
    if not MIN_MS <= millis <= MAX_MS:
        problems.fail(path, "is outside the supported range (1970 to 9999)")


def obj(fields: Mapping[str, Validator]) -> Validator:
    """A JSON object whose keys are among ``fields``, each valid."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if not isinstance(value, dict):
            problems.fail(path, "must be a JSON object")
            return
        for key, item in value.items():
            validate = fields.get(key)
            if validate is None:
                problems.fail(
                    f"{path}.{key}", f"is not a field of {path.rsplit('.', 1)[-1]}; expected {', '.join(fields)}"
                )
            else:
                validate(item, problems, f"{path}.{key}")

    return check


def array(item: Validator, max_items: int) -> Validator:
    """A list of at most ``max_items`` valid items."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if not isinstance(value, list) or len(value) > max_items:
            problems.fail(path, f"must be a list of at most {max_items} items")
            return
        for index, element in enumerate(value):
            item(element, problems, f"{path}[{index}]")

    return check


def predicate(test: Callable[[Any], bool], reason: str) -> Validator:
    """Any value ``test`` accepts; ``reason`` says what is expected otherwise."""

    def check(value: Any, problems: Problems, path: str) -> None:
        if not test(value):
            problems.fail(path, reason)

    return check
