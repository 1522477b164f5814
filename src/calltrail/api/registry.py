"""Every wire dialect the server speaks: adding one is a package under ``api/`` plus one line here.

A dialect is mounted at its path prefixes, renders every error under them in its own envelope,
and contributes its fragments to the OpenAPI document. Dialects never import each other; only
:mod:`calltrail.app` reads this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp

from calltrail.api import bird, cometchat, hooks
from calltrail.api.bird import envelope as bird_envelope
from calltrail.api.bird import openapi as bird_openapi
from calltrail.api.cometchat import openapi as cometchat_openapi
from calltrail.api.cometchat import user_openapi
from calltrail.api.hooks import openapi as hooks_openapi
from calltrail.api.http import render_error_envelope
from calltrail.api.native import create_app as native_app
from calltrail.api.native import openapi as native_openapi
from calltrail.api.native import webhooks_openapi
from calltrail.api.openapi import Fragment
from calltrail.kernel.errors import CalltrailError
from calltrail.store import Stores


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: where it is mounted, how it is built, how it is documented."""

    mounts: tuple[str, ...]
    create_app: Callable[[Stores], ASGIApp]
    openapi: tuple[Fragment, ...]
    #: How the dialect renders an error that is answered before routing (a 429, 431 or 503 of
    #: :mod:`calltrail.api.guard`, a path no route matches); None: CometChat's envelope.
    render: Callable[[CalltrailError], Response] | None = None


DIALECTS: dict[str, Dialect] = {
    "cometchat": Dialect(
        ("/v3", "/v3.0"),
        cometchat.create_app,
        ((cometchat_openapi.paths, cometchat_openapi.components), (user_openapi.paths, user_openapi.components)),
    ),
    "bird": Dialect(
        ("/workspaces",), bird.create_app, ((bird_openapi.paths, bird_openapi.components),), bird_envelope.render
    ),
    "hooks": Dialect(
        ("/hooks",), hooks.create_app, ((hooks_openapi.paths, hooks_openapi.components),), render_error_envelope
    ),
    "native": Dialect(
        ("/api",),
        native_app,
        ((native_openapi.paths, native_openapi.components), (webhooks_openapi.paths, webhooks_openapi.components)),
    ),
}
