"""The web dashboard: server-rendered pages over the same stores as the API.

:func:`create_dashboard` builds an ASGI app and the explicit routes that reach it, which
:mod:`calltrail.app` adds after every API mount, so the dashboard never shadows ``/v3``,
``/workspaces``, ``/api`` and the rest, and an unknown path still answers in the API's envelope.
Every dashboard response carries the security headers (:data:`SECURITY_HEADERS`): a
Content-Security-Policy that allows no inline script or style, and no framing.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calltrail.kernel.errors import CalltrailError
from calltrail.store import Stores
from calltrail.web.calls import CallPages
from calltrail.web.integrations import IntegrationPage
from calltrail.web.overview import OverviewPage
from calltrail.web.pages import Pages
from calltrail.web.phone import PhonePages
from calltrail.web.render import Asset, environment, load_assets, render
from calltrail.web.webhooks import WebhookPage

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src https: http:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: Every path the dashboard serves (Starlette patterns); nothing else reaches it.
PATHS = (
    "/",
    "/signin",
    "/signout",
    "/calls",
    "/calls/{session_id}",
    "/voice",
    "/voice/{channel_id}",
    "/voice/{channel_id}/calls/{call_id}",
    "/users/{uid}",
    "/integrations",
    "/webhooks",
    "/static/{name}",
)


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def _static(assets: dict[str, Asset]) -> Route:
    async def serve(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            raise HTTPException(404)
        headers = {"cache-control": "public, max-age=31536000, immutable", "etag": f'"{asset.digest}"'}
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return Route("/static/{name}", serve, methods=["GET"])


def create_dashboard(stores: Stores) -> list[BaseRoute]:
    """The dashboard's routes, each handing its requests to the dashboard app."""
    assets = load_assets()
    env = environment(assets)
    pages = Pages(stores, env)
    calls, phone, overview = CallPages(pages), PhonePages(pages), OverviewPage(pages)
    integrations, webhooks = IntegrationPage(pages), WebhookPage(pages)
    routes: list[BaseRoute] = [
        Route("/", overview.overview, methods=["GET"]),
        Route("/signin", pages.sign_in_form, methods=["GET"]),
        Route("/signin", pages.sign_in, methods=["POST"]),
        Route("/signout", pages.sign_out, methods=["POST"]),
        Route("/calls", calls.list_calls, methods=["GET"]),
        Route("/calls/{session_id}", calls.get_call, methods=["GET"]),
        Route("/voice", phone.channels, methods=["GET"]),
        Route("/voice/{channel_id}", phone.channel_calls, methods=["GET"]),
        Route("/voice/{channel_id}/calls/{call_id}", phone.get_call, methods=["GET"]),
        Route("/users/{uid}", calls.user_calls, methods=["GET"]),
        Route("/integrations", integrations.integrations, methods=["GET"]),
        Route("/webhooks", webhooks.webhooks, methods=["GET"]),
        _static(assets),
    ]

    async def error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if isinstance(exc, CalltrailError):
            status = exc.status
        message = {404: "There is no such page.", 405: "This page does not take that method."}.get(
            status, "Something went wrong. Please try again."
        )
        body = render(env, "error.html", {"title": "Error", "message": message, "viewer": None})
        return Response(body, status_code=status, media_type="text/html")

    app = Starlette(routes=routes, exception_handlers={HTTPException: error, CalltrailError: error, Exception: error})
    guarded = SecurityHeaders(app)
    return [Route(path, guarded) for path in PATHS]
