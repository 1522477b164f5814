"""The ASGI application: every dialect mounted on one Starlette app over one set of stores.

This is the only module that reads the dialect registry (:mod:`calltrail.api.registry`). Each
dialect's routes are mounted here, on this one app: a request passes one stack of middleware and
one router per level, not an app of its own per dialect. Every error, raised by a handler or
answered before routing (429, 431, 503, a path no route matches), is rendered by the dialect
that owns the path's prefix (:func:`render_error`); paths outside any dialect answer in
CometChat's envelope, the default dialect.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from calltrail.api.cometchat import envelope as cometchat_envelope
from calltrail.api.gate import Gate, GateSettings
from calltrail.api.guard import CORS, Guard
from calltrail.api.health import HealthProbe
from calltrail.api.http import exception_handlers, json_response
from calltrail.api.metrics import CONTENT_TYPE, Metrics
from calltrail.api.openapi import build_document, render_docs
from calltrail.api.registry import DIALECTS
from calltrail.api.routing import IndexedRouter, indexed_app
from calltrail.kernel.errors import CalltrailError, MissingApiKey
from calltrail.settings import Settings
from calltrail.store import Stores, open_stores
from calltrail.web import create_dashboard

#: Headers browsers may send cross-origin (CometChat's SDKs use the first three).
CORS_HEADERS = ("apikey", "authToken", "onBehalfOf", "Authorization", "Content-Type", "appId", "sdk", "resource")


def create_app(stores: Stores, settings: Settings | None = None) -> Starlette:
    """Build the application over open stores (the caller owns and closes them)."""
    settings = settings or Settings()
    document = build_document([fragment for dialect in DIALECTS.values() for fragment in dialect.openapi])
    docs_html = render_docs(document)

    probe = HealthProbe(stores.ping)
    metrics = Metrics(stores.db.stats.snapshot)

    async def health(request: Request) -> Response:
        # Answered from a dedicated ping thread, never queued behind the worker pool.
        state = await probe.check()
        if not state.ok:
            return json_response({"status": "unavailable", "error": state.error}, 503)
        body: dict[str, object] = {"status": "ok", "database": stores.db.dialect}
        if state.stale:
            body["stale"] = True
        return json_response(body)

    async def metrics_endpoint(request: Request) -> Response:
        presented = request.headers.get("authorization", "").encode()
        if settings.metrics_token and not hmac.compare_digest(presented, f"Bearer {settings.metrics_token}".encode()):
            error = MissingApiKey("GET /metrics needs `Authorization: Bearer <CALLTRAIL_METRICS_TOKEN>`.")
            error.headers["WWW-Authenticate"] = "Bearer"
            return cometchat_envelope.render(error)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_html)

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    for dialect in DIALECTS.values():
        dialect_router = IndexedRouter(routes=dialect.routes(stores))
        routes += [_mount(prefix, dialect_router) for prefix in dialect.mounts]
    # The dashboard last, on its own explicit paths (never a catch-all): it shadows no API prefix.
    routes += create_dashboard(stores)
    gate = Gate(GateSettings(settings.max_in_flight, settings.rate_limit, settings.rate_burst), metrics, render_error)
    middleware = [
        Middleware(
            CORS,
            allow_origins=settings.cors_origins,
            allow_methods=("GET", "POST", "PUT", "DELETE", "OPTIONS"),
            allow_headers=CORS_HEADERS,
            # Browsers ask before a public page may call a server on a private network (a
            # self-hosted Calltrail); the origin allow-list is the control, so say yes.
            allow_private_network=True,
            max_age=86400,
        ),
        Middleware(Guard, gate=gate),
    ]
    app = indexed_app(routes, middleware=middleware, exception_handlers=exception_handlers(render_error))
    app.state.health_probe = probe
    app.state.gate = gate  # calltrail serve's HTTP protocol asks it before a request reaches the app
    return app


def _mount(prefix: str, app: ASGIApp) -> Mount:
    """A mount whose remaining path may contain any character: a decoded ``%0A`` in a path
    segment still reaches the dialect, whose validators name the parameter at fault (Starlette's
    default ``.*`` stops at a newline, which made such a path a CometChat 404 everywhere)."""
    mount = Mount(prefix, app)
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return mount


def render_error(path: str, exc: CalltrailError) -> Response:
    """An error in the envelope of the dialect that owns ``path`` (CometChat's by default)."""
    for dialect in DIALECTS.values():
        if any(path == m or path.startswith(m + "/") for m in dialect.mounts):
            return dialect.render(exc)
    return cometchat_envelope.render(exc)


def app_from_env() -> Starlette:
    """An app over the database named by ``CALLTRAIL_DB`` (for ``uvicorn --factory``)."""
    settings = Settings.from_env()
    stores = open_stores(settings.db)
    stores.prepare_to_serve()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.health_probe.close()
            stores.close()

    app = create_app(stores, settings)
    app.router.lifespan_context = lifespan
    return deliver_webhooks(app, stores, settings)


def deliver_webhooks(app: Starlette, stores: Stores, settings: Settings) -> Starlette:
    """Run the webhook deliverer (:mod:`calltrail.jobs.deliverer`) for as long as ``app`` serves:
    it starts after the app's own startup and stops, cleanly, before the app's own shutdown."""
    from calltrail.jobs.deliverer import Policy, delivering
    from calltrail.jobs.settler import settling
    from calltrail.jobs.sweeper import sweeping

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Starlette) -> AsyncIterator[None]:
        # The retention sweeper (jobs/sweeper.py) and the usage rollups' settler
        # (jobs/settler.py) run alongside, started and stopped the same way.
        async with (
            inner(served),
            delivering(stores.db, Policy.from_settings(settings)),
            sweeping(stores),
            settling(stores.db),
        ):
            yield

    app.router.lifespan_context = lifespan
    return app
