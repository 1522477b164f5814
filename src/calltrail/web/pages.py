"""The page machinery every dashboard view shares: who is signed in, one worker trip per page,
rendering, the session cookie, and signing in and out.

A page handler parses what needs no database on the event loop, then hands one function to
:meth:`Pages.page`, which runs in the worker threads *once*: it checks the session (the key
it names must still exist and have ``fullAccess``), calls the view's reads inside one
read snapshot, and renders the HTML there too, off the event loop.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from calltrail.api.auth import authenticate_key
from calltrail.api.http import run
from calltrail.kernel.errors import AuthError, CalltrailError, MissingApiKey, NoAccess
from calltrail.store import Stores
from calltrail.store.secrets import SecretStore
from calltrail.store.tenants import hash_secret
from calltrail.web import forms, sessions
from calltrail.web.render import render
from calltrail.web.sessions import Session

SECRET_NAME = "dashboard_session"
#: A path on this site: one leading slash, then no slash or backslash, and no whitespace or
#: control character anywhere (browsers drop tabs and newlines, turning "/\t/x" into "//x").
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\\x00-\x1f\x7f]*\Z")
TZ_COOKIE = "calltrail_tz"
MAX_FORM_BYTES = 8192
SIGN_IN_MESSAGES = {
    MissingApiKey: "Enter an API key.",
    NoAccess: "That key has the authOnly scope: sign in with a fullAccess key.",
}
WRONG_KEY = "That API key is not valid."
EXPIRED_FORM = "The form expired. Please try again."


@dataclass(frozen=True)
class Viewer:
    """The signed-in app, as every page sees it."""

    app_id: str
    app_name: str
    session: Session
    csrf: str
    tz: zoneinfo.ZoneInfo

    @property
    def zone_name(self) -> str:
        return self.tz.key


class Page(CalltrailError):
    """Raised by a view to answer with an HTML page other than its own (an error, say)."""

    def __init__(self, template: str, context: dict[str, Any], status: int):
        super().__init__("page")
        self.template, self.context, self.status = template, context, status


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another origin."""
    if not target or not _LOCAL_PATH.match(target):
        return "/"
    return target


def browser_zone(request: Request) -> zoneinfo.ZoneInfo:
    """The zone the dashboard's script reported in its cookie (URI-encoded), UTC without one."""
    return forms.zone(unquote(request.cookies.get(TZ_COOKIE, "")))


def is_https(request: Request) -> bool:
    """True behind TLS, directly or through a proxy that says so."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


class Pages:
    """Runs views: authentication, one worker trip, rendering, and the session cookie."""

    def __init__(self, stores: Stores, env: jinja2.Environment):
        self.stores = stores
        self.env = env
        self.secrets = SecretStore(stores.db)

    # -- cookies ----------------------------------------------------------------------------

    def _set_session(self, response: Response, request: Request, session: Session) -> Response:
        response.set_cookie(
            sessions.COOKIE,
            sessions.encode(session, self.secrets.get(SECRET_NAME)),
            max_age=sessions.IDLE_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
        return response

    def html(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        return HTMLResponse(render(self.env, template, context), status_code=status)

    # -- pages ------------------------------------------------------------------------------

    def _viewer(self, request: Request, now: int) -> Viewer | None:
        """The signed-in viewer, or None (no session, idle, or its key is gone)."""
        secret = self.secrets.get(SECRET_NAME)
        session = sessions.decode(request.cookies.get(sessions.COOKIE), secret, now)
        if session is None or session.key_hash is None:
            return None
        key = self.stores.tenants.find_key_hash(session.key_hash)
        if key is None or key.app_id != session.app_id or key.scope != "fullAccess":
            return None
        app = self.stores.tenants.get_app(key.app_id)
        name = app.name if app is not None else key.app_id
        tz = browser_zone(request)
        return Viewer(key.app_id, name, session, sessions.csrf_token(session, secret), tz)

    def context(self, viewer: Viewer, section: str, title: str, **values: Any) -> dict[str, Any]:
        """What every signed-in template needs, plus the view's own values."""
        return {"viewer": viewer, "section": section, "title": title, **values}

    async def page(
        self, request: Request, view: Callable[[Viewer], Response], prepare: Callable[[str], None] | None = None
    ) -> Response:
        """Run ``view`` for the signed-in viewer in one worker trip (reads in one snapshot), or
        send a visitor who is not signed in to the sign-in form, coming back here after. With
        ``prepare``, it is called with the viewer's app first, outside the view's snapshot (so
        the view reads what it wrote: the usage rollups' backlog settled)."""

        def work() -> Response:
            now = int(time.time())
            with self.stores.db.read():
                viewer = self._viewer(request, now)
                if viewer is None:
                    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/signin?next={quote(back, safe='')}", status_code=303)
                if prepare is None:
                    response = self._render(view, viewer)
            if prepare is not None:
                prepare(viewer.app_id)
                with self.stores.db.read():
                    response = self._render(view, viewer)
            response.headers["cache-control"] = "no-store"
            if now - viewer.session.seen >= sessions.REFRESH_SECONDS:
                self._set_session(response, request, viewer.session.touched(now))
            return response

        return await run(work)

    def _render(self, view: Callable[[Viewer], Response], viewer: Viewer) -> Response:
        try:
            return view(viewer)
        except Page as page:
            return self.html(page.template, self.context(viewer, "", "Error", **page.context), page.status)

    # -- signing in and out -----------------------------------------------------------------

    def _sign_in_form(self, request: Request, session: Session, error: str, status: int, target: str) -> Response:
        context = {
            "title": "Sign in",
            "csrf": sessions.csrf_token(session, self.secrets.get(SECRET_NAME)),
            "error": error,
            "next": target,
        }
        response = self.html("signin.html", context, status)
        response.headers["cache-control"] = "no-store"
        return self._set_session(response, request, session)

    async def sign_in_form(self, request: Request) -> Response:
        """``GET /signin``: the form (or, when already signed in, where it would lead)."""
        target = safe_next(request.query_params.get("next"))

        def work() -> Response:
            now = int(time.time())
            with self.stores.db.read():
                if self._viewer(request, now) is not None:
                    return RedirectResponse(target, status_code=303)
                secret = self.secrets.get(SECRET_NAME)
                session = sessions.decode(request.cookies.get(sessions.COOKIE), secret, now)
            fresh = session if session is not None and not session.signed_in else sessions.new_session(now)
            return self._sign_in_form(request, fresh.touched(now), "", 200, target)

        return await run(work)

    async def sign_in(self, request: Request) -> Response:
        """``POST /signin``: check the CSRF token and the key; on success a new session."""
        fields = await read_form(request)
        target = safe_next(fields.get("next"))

        def work() -> Response:
            now = int(time.time())
            secret = self.secrets.get(SECRET_NAME)
            session = sessions.decode(request.cookies.get(sessions.COOKIE), secret, now)
            if not sessions.csrf_valid(session, fields.get("csrf"), secret):
                return self._sign_in_form(request, sessions.new_session(now), EXPIRED_FORM, 403, target)
            assert session is not None
            secret_key = fields.get("apikey", "").strip()
            try:
                key = authenticate_key(self.stores, secret_key)
            except AuthError as exc:
                message = SIGN_IN_MESSAGES.get(type(exc), WRONG_KEY)
                return self._sign_in_form(request, session.touched(now), message, 401, target)
            signed_in = sessions.new_session(now, key.app_id, hash_secret(secret_key))
            return self._set_session(RedirectResponse(target, status_code=303), request, signed_in)

        return await run(work)

    async def sign_out(self, request: Request) -> Response:
        """``POST /signout``: end the session (a new, signed-out one replaces it)."""
        fields = await read_form(request)

        def work() -> Response:
            now = int(time.time())
            secret = self.secrets.get(SECRET_NAME)
            session = sessions.decode(request.cookies.get(sessions.COOKIE), secret, now)
            if not sessions.csrf_valid(session, fields.get("csrf"), secret):
                return self.html("error.html", {"title": "Error", "message": EXPIRED_FORM, "viewer": None}, 403)
            response = RedirectResponse("/signin", status_code=303)
            return self._set_session(response, request, sessions.new_session(now))

        return await run(work)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body, bounded (a sign-in form is tiny); the first value per name."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, value)
    return fields
