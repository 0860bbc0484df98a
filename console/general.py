"""A repository's general settings: its name and its description.

Each change is one CodeCommit operation run as the signed-in principal through
`emulator.api.invoke`: UpdateRepositoryName, UpdateRepositoryDescription. A refused change is
the denial page naming the action; an invalid one is the Settings page with CodeCommit's
error, and nothing was changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError

if TYPE_CHECKING:
    from console.app import Console
    from console.settings import SettingsPages


class GeneralPages:
    def __init__(self, console: Console, settings: SettingsPages) -> None:
        self.console = console
        self.settings = settings

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}/settings"
        return [
            Route(at + "/name", page(self.rename), methods=["POST"]),
            Route(at + "/description", page(self.describe), methods=["POST"]),
        ]

    async def rename(self, request: Request, session: Session) -> Response:
        old = request.path_params["name"]
        new = request.state.form.get("new_name", "").strip()
        params = {"oldName": old, "newName": new}
        try:
            await self.console.call(request, session, "UpdateRepositoryName", params)
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return await self.settings.settings(request, session, 400, general_error=error)
        return _back(request, session, new, f"Renamed repository {old} to {new}.")

    async def describe(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        text = request.state.form.get("description", "").replace("\r\n", "\n")
        params = {"repositoryName": name, "repositoryDescription": text}
        try:
            await self.console.call(request, session, "UpdateRepositoryDescription", params)
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return await self.settings.settings(request, session, 400, general_error=error)
        return _back(request, session, name, "Updated the description.")


def _back(request: Request, session: Session, name: str, note: str) -> Response:
    from console.app import _redirect

    session.notes.append(note)
    del session.notes[:-5]
    return _redirect(request, f"/repositories/{quote(name, safe='')}/settings#general")
