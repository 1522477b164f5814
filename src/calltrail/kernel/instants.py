"""Time values on the wire and in storage.

Calltrail stores instants as integer milliseconds since the Unix epoch, UTC. CometChat speaks
Unix seconds; Bird speaks RFC 3339 with milliseconds. Both conversions live here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

# Instants outside this window are almost certainly unit mistakes (milliseconds sent as seconds).
MIN_MS = 0
MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z")


def parse_rfc3339(text: str) -> int:
    """Parse an RFC 3339 date-time with a zone (``Z`` or ``±HH:MM``) into epoch milliseconds.

    Raises ``ValueError`` with a readable reason for anything else, including dates without a
    zone, which would otherwise be silently read as local time.
    """
    match = _RFC3339.match(text)
    if not match:
        raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2024-03-01T16:54:33.241Z")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    iso = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    iso += "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ValueError(f"is not a valid date-time ({exc})") from None
    millis = int(moment.timestamp()) * 1000
    if fraction:
        millis += int((fraction[1:] + "000")[:3])
    return millis


def parse_instant(value: object) -> int:
    """Read an event time: Unix seconds (int or float) or an RFC 3339 string, as epoch ms."""
    if isinstance(value, bool):
        raise ValueError("must be Unix seconds or an RFC 3339 date-time, not a boolean")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number of Unix seconds")
        if not MIN_MS / 1000 <= value <= MAX_MS / 1000:
            # checked before converting: round() of a huge float overflows instead of failing here
            raise ValueError("is outside the supported range (1970 to 9999)")
        millis = round(value * 1000)
    elif isinstance(value, str):
        millis = parse_rfc3339(value)
    else:
        raise ValueError("must be Unix seconds (a number) or an RFC 3339 date-time string")
    if not MIN_MS <= millis <= MAX_MS:
        raise ValueError("is outside the supported range (1970 to 9999)")
    return millis


def to_unix_seconds(millis: int) -> int:
    """Whole Unix seconds for an instant (floored, as CometChat's integer timestamps are)."""
    return millis // 1000


def format_rfc3339(millis: int) -> str:
    """Format epoch ms as Bird does: UTC, ``Z``, milliseconds with trailing zeros trimmed.

    ``1698334007770`` becomes ``2023-10-26T15:26:47.77Z``; a whole second has no fraction.
    """
    seconds, ms = divmod(millis, 1000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if ms:
        base += "." + f"{ms:03d}".rstrip("0")
    return base + "Z"


def now_ms() -> int:
    """The current instant in epoch milliseconds."""
    return int(datetime.now(tz=UTC).timestamp() * 1000)
