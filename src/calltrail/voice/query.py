"""A storage-neutral description of which telephony calls a list request wants.

Pure: no I/O. The API parses a query string into a :class:`ChannelCallQuery`; the store
compiles it to keyset ("seek") SQL against a fixed set of columns, so no request text reaches
SQL. Results are ordered newest ``createdAt`` first, ties by call id descending; a
:class:`~calltrail.kernel.cursors.Cursor` (``createdAt``, call id) is the position after the last
call a page showed.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class ChannelCallQuery:
    """Every condition must hold; each tuple means "any of these values", empty means "any".

    ``scope`` is the channel of ``/channels/{channelId}/calls``, or None for the workspace-wide
    ``/channels/calls``, where ``channels`` filters by channel. Ids are lower case; ``tags`` are
    lower case (tags match case-insensitively). ``start_ms`` is inclusive, ``end_ms`` exclusive,
    both on ``createdAt``.
    """

    scope: str | None = None
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    call_to: str | None = None
    call_from: str | None = None
    duration: int | None = None
    call_id: str | None = None
    tags: tuple[str, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None

    def fingerprint(self) -> bytes:
        """A canonical encoding of the query: equal for queries that select the same calls
        however their parameters were spelled or ordered (what page tokens are bound to)."""
        return orjson.dumps(
            [
                self.scope,
                sorted(self.channels),
                sorted(self.statuses),
                sorted(self.types),
                sorted(self.directions),
                self.call_to,
                self.call_from,
                self.duration,
                self.call_id,
                sorted(self.tags),
                self.start_ms,
                self.end_ms,
            ]
        )
