"""The query-string kernel every dialect's grammar is built on.

Pure: no I/O. A dialect's parameter table drives parsing, validation and its OpenAPI document;
what they share is here: keys are grouped by name and bracket operator (``name=v``,
``name[]=v``, ``name[op]=v``), every problem is collected under the parameter's label, and the
primitive readers raise ``ValueError`` with the reason a client is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from calltrail.kernel.problems import Problems

KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([A-Za-z]*)\])?\Z")
UNSUPPORTED = "is not a supported parameter"
#: ``(name, operator)``: the operator is None for ``name=``, "" for ``name[]=``.
GroupKey = tuple[str, str | None]


def label(name: str, op: str | None) -> str:
    """How a parameter is named in errors: ``name`` or ``name[op]``."""
    return name if op is None else f"{name}[{op}]"


def group_keys(
    items: Iterable[tuple[str, str]], problems: Problems, malformed: str = "is not a valid parameter name"
) -> dict[GroupKey, list[str]]:
    """The values of each ``(name, operator)``, in order; a key that is neither is reported."""
    grouped: dict[GroupKey, list[str]] = {}
    for key, value in items:
        match = KEY.match(key)
        if match is None:
            problems.fail(key, malformed)
            continue
        grouped.setdefault((match.group(1), match.group(2)), []).append(value)
    return grouped


def read_whole(text: str, lower: int, upper: int) -> int:
    """A whole number written in decimal, between ``lower`` and ``upper``."""
    if not re.fullmatch(r"-?\d{1,19}", text):
        raise ValueError("must be an integer")
    value = int(text)
    if not lower <= value <= upper:
        raise ValueError(f"must be between {lower} and {upper}")
    return value


def not_empty(text: str) -> str:
    """A value that is not the empty string."""
    if text == "":
        raise ValueError("must not be empty")
    return text
