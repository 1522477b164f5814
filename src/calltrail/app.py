"""The ASGI application: every dialect mounted on one Starlette app over one set of stores.

This is the only module that reads the dialect registry (:mod:`calltrail.api.registry`). Paths
outside any dialect (unknown routes) answer in CometChat's envelope, the default dialect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from calltrail.api.cometchat.envelope import EXCEPTION_HANDLERS
from calltrail.api.http import json_response, run
from calltrail.api.openapi import build_document, render_docs
from calltrail.api.registry import DIALECTS
from calltrail.kernel.errors import CalltrailError
from calltrail.settings import Settings
from calltrail.store import Stores, open_stores

#: Headers browsers may send cross-origin (CometChat's SDKs use the first three).
CORS_HEADERS = ("apikey", "authToken", "onBehalfOf", "Authorization", "Content-Type", "appId", "sdk", "resource")


def create_app(stores: Stores, settings: Settings | None = None) -> Starlette:
    """Build the application over open stores (the caller owns and closes them)."""
    settings = settings or Settings()
    document = build_document([fragment for dialect in DIALECTS.values() for fragment in dialect.openapi])
    docs_html = render_docs(document)

    async def health(request: Request) -> Response:
        try:
            await run(stores.ping)
        except CalltrailError as exc:  # the store reports any database failure as Unavailable
            return json_response({"status": "unavailable", "error": exc.message}, 503)
        return json_response({"status": "ok", "database": stores.db.dialect})

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_html)

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    for dialect in DIALECTS.values():
        dialect_app = dialect.create_app(stores)
        routes += [Mount(prefix, dialect_app) for prefix in dialect.mounts]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=("GET", "POST", "PUT", "DELETE", "OPTIONS"),
            allow_headers=CORS_HEADERS,
            # Browsers ask before a public page may call a server on a private network (a
            # self-hosted Calltrail); the origin allow-list is the control, so say yes.
            allow_private_network=True,
            max_age=86400,
        )
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)


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
            stores.close()

    app = create_app(stores, settings)
    app.router.lifespan_context = lifespan
    return app
