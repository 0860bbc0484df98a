"""Switch role: the signed-in principal assumes a role through STS, as AWS's console does.

The form asks what AWS's asks: the account, the role's name (with its path, if any) and a
display name. The console runs `sts:AssumeRole` as the principal who signed in, through
`emulator.api.invoke` like any API call, with the user's name as the session's name; the role's
trust policy and the user's own policies decide, and a refusal is STS's own error. The session
then acts as the role session that STS issued (its policies, session policies and expiry), until
"Back to <user>", until that role session expires, or until sign-out. Switching again always
starts from the principal who signed in, as the console does, not from the role.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError

if TYPE_CHECKING:
    from console.app import Console

# AWS's console keeps the five roles used last.
RECENT_ROLES = 5
_ACCOUNT = re.compile(r"\d{12}")
# A role name, optionally after its path ("team/dev"), as the Switch Role form takes it.
_ROLE = re.compile(r"(?:[\x21-\x2e\x30-\x7e]+/)*[\w+=,.@-]{1,64}")
_DISPLAY_MAX = 64


def expire(session: Session) -> None:
    """A role session past its expiry ends; the console session goes on as who signed in."""
    p = session.principal
    if session.signed_in is None or p.expires is None:
        return
    if p.expires <= datetime.now(UTC):
        session.notes.append(f"The session of role {session.display} expired.")
        back(session)


def back(session: Session) -> None:
    if session.signed_in is not None:
        session.principal = session.signed_in
        session.signed_in = None
        session.display = ""


class SwitchRolePages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        page = self.console.page
        return [
            Route("/switchrole", page(self.form), methods=["GET"]),
            Route("/switchrole", page(self.switch), methods=["POST"]),
            Route("/switchrole/back", page(self.back), methods=["POST"]),
        ]

    def _render(
        self, request: Request, session: Session, status: int = 200, **values: Any
    ) -> Response:
        return self.console.render(
            request,
            "switch_role.html",
            status,
            session,
            recent=session.recent_roles,
            **values,
        )

    async def form(self, request: Request, session: Session) -> Response:
        # A link may fill the form in (`?account=…&roleName=…&displayName=…`), as AWS's does.
        q = request.query_params
        return self._render(
            request,
            session,
            account=q.get("account", "")[:12],
            role=q.get("roleName", "")[:512],
            display=q.get("displayName", "")[:_DISPLAY_MAX],
        )

    async def switch(self, request: Request, session: Session) -> Response:
        form = request.state.form
        account = form.get("account", "").strip()
        role = form.get("role", "").strip().strip("/")
        display = form.get("display", "").strip()[:_DISPLAY_MAX]
        values = {"account": account, "role": role, "display": display}
        if not _ACCOUNT.fullmatch(account) or not _ROLE.fullmatch(role) or len(role) > 512:
            error = "Enter a 12-digit account ID and a role name."
            return self._render(request, session, 400, error=error, **values)
        who = session.identity
        path, _, name = role.rpartition("/")
        role_arn = f"arn:aws:iam::{account}:role/{path + '/' if path else ''}{name}"
        params = {"RoleArn": role_arn, "RoleSessionName": _session_name(who.name or "root")}
        # The role is assumed by who signed in, never by the role the session acts as now.
        caller = replace(session, principal=who)
        try:
            out = await self.console.call(request, caller, "AssumeRole", params, "sts")
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return self._render(request, session, 403, error=error, **values)
        creds = out["Credentials"]
        assumed = self.console.emu.sessions.find(creds["AccessKeyId"])
        if assumed is None or not assumed.token_matches(creds["SessionToken"]):
            raise RuntimeError("STS answered credentials it does not know")
        display = display or f"{name} @ {account}"
        session.signed_in = who
        session.principal = assumed.principal
        session.display = display
        entry = {"account": account, "role": role, "display": display}
        session.recent_roles[:] = [entry] + [e for e in session.recent_roles if e != entry]
        del session.recent_roles[RECENT_ROLES:]
        return RedirectResponse(request.scope.get("root_path", "") + "/repositories", 303)

    async def back(self, request: Request, session: Session) -> Response:
        back(session)
        return RedirectResponse(request.scope.get("root_path", "") + "/repositories", 303)


def _session_name(name: str) -> str:
    """The user's name as a role session name ([\\w+=,.@-]{2,64}), as AWS's console names it."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", name)[:64]
    return cleaned if len(cleaned) >= 2 else cleaned + "-console"
