"""``GET /api/usage/calls`` and ``GET /api/usage/voice``: minutes, outcomes, answer rates and
peak concurrency over any period, bucketed in any IANA zone (see docs/usage.md).

Each handler parses the query string on the event loop (keeping any error, so credentials are
checked first), then makes one worker trip: authentication and the series, in one snapshot.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.http import json_response, parse_now, run, unwrap
from calltrail.api.native.keys import authenticate
from calltrail.kernel.instants import now_ms
from calltrail.store import Stores
from calltrail.usage.params import describe, parse_call_usage, parse_voice_usage


class UsageEndpoints:
    """The request handlers of ``/api/usage/*``."""

    def __init__(self, stores: Stores):
        self.stores = stores

    async def calls(self, request: Request) -> Response:
        """``GET /api/usage/calls``: the CometChat-shaped calls, bucketed by ``initiatedAt``."""
        now = now_ms()
        parsed = parse_now(parse_call_usage, request.query_params.multi_items(), now)

        def answer() -> dict[str, Any]:
            with self.stores.db.read():
                key = authenticate(self.stores, request)
                checked = unwrap(parsed)
            # Outside that snapshot: a series read from rollups first settles their backlog, then
            # reads in a snapshot of its own (store/usage_backlog.py).
            rows = self.stores.usage.calls(key.app_id, checked, now)
            return {"data": rows, "meta": describe(checked.period)}

        return json_response(await run(answer))

    async def voice(self, request: Request) -> Response:
        """``GET /api/usage/voice``: the Bird-shaped phone calls, bucketed by ``createdAt``."""
        now = now_ms()
        parsed = parse_now(parse_voice_usage, request.query_params.multi_items(), now)

        def answer() -> dict[str, Any]:
            with self.stores.db.read():
                key = authenticate(self.stores, request)
                checked = unwrap(parsed)
                rows = self.stores.usage.voice(key.app_id, checked, now)
            return {"data": rows, "meta": describe(checked.period)}

        return json_response(await run(answer))
