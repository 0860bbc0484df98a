"""The console's ASGI app: sign-in, sessions, the request guard, and the pages it serves.

Every request that changes something is a POST that must come from this origin (`Origin`, or
failing that `Referer`, equal to the server's own) and carry the session's CSRF token; the
session cookie is HttpOnly and SameSite=Strict (and Secure over TLS). A refused request
changes nothing.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from console import code, repositories, switch_role
from console.changes import ChangePages
from console.connect import ConnectPage
from console.credentials import CredentialPages
from console.events import EventPages
from console.general import GeneralPages
from console.pulls import PullRequestPages
from console.sessions import Session, Sessions
from console.settings import SettingsPages
from console.upload import UploadPages
from emulator.api.invoke import invoke
from emulator.core import Emulator
from emulator.errors import ClientError
from emulator.iam.authorize import AccessDenied
from emulator.iam.keys.common import user_principal
from emulator.iam.own_password import authorize_own_password
from emulator.iam.policy import MatchedStatement
from emulator.iam.principal import Principal

COOKIE = "ccemu_console"
MAX_FORM = 64 * 1024
# AWS's console says no more than this, whichever of account, user or password was wrong.
SIGN_IN_FAILED = "Your authentication information is incorrect. Please try again."
_ACCOUNT = re.compile(r"\d{12}")
_HERE = Path(__file__).parent

Page = Callable[[Request, Session], Awaitable[Response]]
FormReader = Callable[[Request], Awaitable[dict[str, str] | None]]


class Console:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        cfg = emu.config
        self.sessions = Sessions(cfg.console_idle_timeout, cfg.console_session_lifetime)
        self.templates = Jinja2Templates(directory=str(_HERE / "templates"))

    # -- rendering ----------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        name: str,
        status: int = 200,
        session: Session | None = None,
        **values: Any,
    ) -> Response:
        context = {
            "base": request.scope.get("root_path", ""),
            "session": session,
            "principal": session.principal if session else None,
            "csrf": session.csrf if session else "",
            **values,
        }
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        return _hardened(response)

    def denied(self, request: Request, session: Session, exc: Denied) -> Response:
        return self.render(
            request,
            "denied.html",
            403,
            session,
            action=exc.action,
            resource=exc.resource,
            reason=exc.reason,
            statements=exc.statements,
        )

    # -- the gate ----------------------------------------------------------------------------

    async def call(
        self,
        request: Request,
        session: Session,
        operation: str,
        params: dict[str, Any] | None = None,
        service: str = "codecommit",
    ) -> dict[str, Any]:
        """Run one operation as the signed-in principal, exactly as the API door runs it
        (`emulator.api.invoke`); a refusal by the gate becomes `Denied` (the denial page),
        any other error is the ClientError AWS would answer."""
        try:
            return await run_in_threadpool(
                invoke,
                self.emu,
                session.principal,
                service,
                operation,
                params,
                source_ip=request.client.host if request.client else None,
                secure_transport=request.url.scheme == "https",
            )
        except AccessDenied as exc:
            raise Denied.of(exc) or exc from None

    # -- the guard ----------------------------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return None
        p = session.identity
        if p.kind == "IAMUser" and p.name:
            # A new password, a deleted profile or a deleted user ends the session.
            profile = self.emu.keys.login.find(p.account, p.name)
            user = self.emu.iam.find_user(p.account, p.name)
            if profile is None or user is None or profile.version != session.profile_version:
                self.sessions.end(request.cookies.get(COOKIE))
                return None
        switch_role.expire(session)
        return session

    def page(
        self, handler: Page, *, allow_pending: bool = False, reader: FormReader | None = None
    ) -> Callable[..., Any]:
        """Wrap a page: signed in, from this origin with the CSRF token if it is a POST, and
        through the password change first when one is due. A POST's body is read by `reader`
        (an urlencoded form unless told), only once its origin is known to be this one."""

        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:
                if request.method == "POST":
                    return self.refuse(request, "Your session has ended. Sign in again.")
                return _redirect(request, "/signin")
            if request.method == "POST":
                if not same_origin(request):
                    return self.refuse(request, "Cross-site request refused.", session)
                try:
                    form = await (reader or read_form)(request)
                except ClientError as exc:  # a body past its bound, refused unread
                    return self.failed(request, session, exc)
                if form is None:
                    return self.refuse(request, "Cross-site request refused.", session)
                if not session.csrf_matches(form.get("csrf")):
                    return self.refuse(request, "The form has expired. Try again.", session)
                request.state.form = form
            if session.must_change and not allow_pending:
                return _redirect(request, "/password")
            try:
                return await handler(request, session)
            except Denied as exc:
                return self.denied(request, session, exc)
            except ClientError as exc:
                return self.failed(request, session, exc)

        return endpoint

    def failed(self, request: Request, session: Session, exc: ClientError) -> Response:
        """What an operation answered (RepositoryDoesNotExistException, ...), as AWS words it;
        nothing was changed."""
        status = 404 if exc.code.endswith("DoesNotExistException") else 400
        return self.render(
            request, "error.html", status, session, code=exc.code, message=exc.message
        )

    def refuse(self, request: Request, message: str, session: Session | None = None) -> Response:
        return self.render(request, "refused.html", 403, session, message=message)

    # -- sign-in and sign-out -----------------------------------------------------------------

    async def signin_form(self, request: Request) -> Response:
        if self.session_of(request) is not None:
            return _redirect(request, "/repositories")
        return self.render(request, "signin.html", kind="iam", account=self.emu.config.account)

    async def signin(self, request: Request) -> Response:
        form = await read_form(request)
        if form is None or not same_origin(request):
            return self.refuse(request, "Cross-site request refused.")
        kind = "root" if form.get("kind") == "root" else "iam"
        account = form.get("account", "").strip()
        user_name = form.get("username", "").strip()
        password = form.get("password", "")
        principal: Principal | None = None
        version: int | None = None
        must_change = False
        if not _ACCOUNT.fullmatch(account) or len(password) > 1024 or len(user_name) > 64:
            principal = None
        elif kind == "root":
            secret = self.emu.config.root_secret_key
            if hmac.compare_digest(password.encode(), secret.encode()):
                principal = Principal.root(account)
        else:
            found = self.emu.keys.login.sign_in(account, user_name, password)
            if found is not None:
                principal = user_principal(found.user)
                version = found.profile.version
                must_change = found.must_change
        if principal is None:
            return self.render(
                request,
                "signin.html",
                401,
                kind=kind,
                account=account,
                username=user_name,
                error=SIGN_IN_FAILED,
            )
        self.sessions.end(request.cookies.get(COOKIE))  # a new token at every sign-in
        token, _ = self.sessions.create(principal, version, must_change)
        response = _redirect(request, "/password" if must_change else "/repositories")
        response.set_cookie(
            COOKIE,
            token,
            path=request.scope.get("root_path", "") or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def signout(self, request: Request, session: Session) -> Response:
        self.sessions.end(request.cookies.get(COOKIE))
        response = _redirect(request, "/signin")
        response.delete_cookie(
            COOKIE,
            path=request.scope.get("root_path", "") or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def password(self, request: Request, session: Session) -> Response:
        """A new password: required at sign-in (PasswordResetRequired, an expired password),
        or chosen by the user; through the same rule as ChangePassword."""
        p = session.principal
        if p.kind != "IAMUser" or not p.name:
            return self.render(request, "password.html", 400, session, error="Root has none.")
        if request.method == "GET":
            return self.render(request, "password.html", session=session)
        form = request.state.form
        new = form.get("new_password", "")
        if new != form.get("confirm_password", ""):
            error = "The new passwords do not match."
            return self.render(request, "password.html", 400, session, error=error)
        user = self.emu.iam.get_user(p.account, p.name)
        try:
            authorize_own_password(
                self.emu.authorizer,
                self.emu.keys.login,
                p,
                user.arn,
                source_ip=request.client.host if request.client else None,
                secure_transport=request.url.scheme == "https",
            )
        except AccessDenied as exc:
            raise Denied.of(exc) or exc from None
        try:
            profile = self.emu.keys.login.change_password(
                p.account, p.name, form.get("old_password", ""), new
            )
        except ClientError as exc:
            return self.render(request, "password.html", 400, session, error=exc.message)
        session.profile_version = profile.version
        session.must_change = False
        return _redirect(request, "/repositories")


class Denied(Exception):
    """An action the gate refused, with what decided it, for the denial page."""

    def __init__(
        self, action: str, resource: str, reason: str, statements: list[dict[str, Any]]
    ) -> None:
        super().__init__(action)
        self.action = action
        self.resource = resource
        self.reason = reason
        self.statements = statements

    @classmethod
    def of(cls, exc: AccessDenied) -> Denied | None:
        """The decision an `AccessDenied` from the gate carries; None for one that carries
        none (a refusal that is no policy decision), shown as a plain error instead."""
        if exc.action is None or exc.resource is None:
            return None
        result = exc.evaluation
        reason = "" if result is None else result.reason
        statements = [] if result is None else [_statement(m) for m in result.matched]
        return cls(exc.action, exc.resource, reason, statements)


def _statement(m: MatchedStatement) -> dict[str, Any]:
    return {
        "policy": m.policy_id,
        "type": m.policy_type,
        "sid": m.sid,
        "effect": m.effect,
        "index": m.index,
        "line": m.start[0] if m.start else None,
    }


def same_origin(request: Request) -> bool:
    """Whether a POST comes from a page of this server: its Origin (or, from a browser that
    sends none, its Referer) names this scheme, host and port."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return hmac.compare_digest(origin.lower().encode(), own.encode())


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form of at most MAX_FORM bytes, one value per name; None otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in fields.items()}


def _redirect(request: Request, path: str) -> Response:
    return _hardened(RedirectResponse(request.scope.get("root_path", "") + path, 303))


def _hardened(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


def build(emu: Emulator) -> Starlette:
    console = Console(emu)
    pages = repositories.Pages(console)
    code_pages = code.CodePages(console)
    changes = ChangePages(console, code_pages)
    connect = ConnectPage(console, code_pages)
    pulls = PullRequestPages(console, code_pages)
    settings = SettingsPages(console, code_pages)
    general = GeneralPages(console, settings)
    uploads = UploadPages(console, code_pages, changes)
    credentials = CredentialPages(console)
    events = EventPages(console)
    roles = switch_role.SwitchRolePages(console)

    async def index(request: Request) -> Response:
        return _redirect(request, "/repositories")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/signin", console.signin_form, methods=["GET"]),
        Route("/signin", console.signin, methods=["POST"]),
        Route("/signout", console.page(console.signout, allow_pending=True), methods=["POST"]),
        Route(
            "/password",
            console.page(console.password, allow_pending=True),
            methods=["GET", "POST"],
        ),
        *pages.routes(),
        *changes.routes(),
        *connect.routes(),
        *pulls.routes(),
        *settings.routes(),
        *general.routes(),
        *uploads.routes(),
        *credentials.routes(),
        *events.routes(),
        *roles.routes(),
        *code_pages.routes(),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes)
