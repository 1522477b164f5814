"""Calltrail's own API under ``/api``: usage analytics, exports and webhooks.

Authenticated like the CometChat dialect: an ``apikey`` header with a ``fullAccess`` key, or
``Authorization: Bearer <key>``. Every error, routing ones included, is rendered in the shared
``{"error": {"code", "message", "details"}}`` envelope (:func:`calltrail.api.http.error_envelope`).

This module is the route table only; each feature's handlers live in its own module.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from calltrail.api.native.exports import ExportEndpoints
from calltrail.api.native.usage import UsageEndpoints
from calltrail.api.native.webhooks import webhook_routes
from calltrail.store import Stores


def routes(stores: Stores) -> list[BaseRoute]:
    """The routes of ``/api``, relative to it."""
    usage = UsageEndpoints(stores)
    exports = ExportEndpoints(stores)
    return [
        Route("/usage/calls", usage.calls, methods=["GET"]),
        Route("/usage/voice", usage.voice, methods=["GET"]),
        Route("/exports/calls", exports.calls, methods=["GET"]),
        Route("/exports/participants", exports.participants, methods=["GET"]),
        Route("/exports/voice", exports.voice, methods=["GET"]),
        *webhook_routes(stores),
    ]
