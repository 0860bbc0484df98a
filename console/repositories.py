"""The Repositories page: list (search, paging), create, delete with confirmation.

Each action is authorized by the one gate with the signed-in principal, on the same action and
resource the API declares (`codecommit:ListRepositories` on `*`, `CreateRepository` and
`DeleteRepository` on the repository's ARN), then done by the repository service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError
from emulator.repos.names import validate_repository_name

if TYPE_CHECKING:
    from console.app import Console

PAGE_SIZE = 25
MAX_SEARCH = 100


class Pages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.emu = console.emu

    def routes(self) -> list[Route]:
        page = self.console.page
        return [
            Route("/repositories", page(self.list), methods=["GET"]),
            Route("/repositories", page(self.create), methods=["POST"]),
            Route("/repositories/{name}/delete", page(self.confirm_delete), methods=["GET"]),
            Route("/repositories/{name}/delete", page(self.delete), methods=["POST"]),
        ]

    def _arn(self, session: Session, name: str) -> str:
        region = self.emu.config.region
        return f"arn:aws:codecommit:{region}:{session.principal.account}:{name}"

    def _authorize(self, request: Request, session: Session, action: str, arn: str) -> None:
        from console.app import authorize

        authorize(self.emu, session, request, action, arn)

    async def list(
        self, request: Request, session: Session, error: str = "", status: int = 200
    ) -> Response:
        self._authorize(request, session, "codecommit:ListRepositories", "*")
        query = request.query_params.get("q", "")[:MAX_SEARCH].strip()
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            number = 1
        repos = self.emu.repos.list(session.principal.account, self.emu.config.region)
        if query:
            repos = [r for r in repos if query.lower() in r.name.lower()]
        repos.sort(key=lambda r: r.name.lower())
        pages = max(1, -(-len(repos) // PAGE_SIZE))
        number = min(number, pages)
        shown = repos[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        return self.console.render(
            request,
            "repositories.html",
            status,
            session,
            repositories=shown,
            query=query,
            page=number,
            pages=pages,
            total=len(repos),
            error=error,
            notices=_take_notes(session),
            clone_url=self.emu.clone_url_http,
        )

    async def create(self, request: Request, session: Session) -> Response:
        form = request.state.form
        description = form.get("description", "") or None
        try:
            name = validate_repository_name(form.get("name", "").strip())
        except ClientError as exc:
            return await self.list(request, session, exc.message, 400)
        self._authorize(request, session, "codecommit:CreateRepository", self._arn(session, name))
        account, region = session.principal.account, self.emu.config.region
        try:
            key = self.emu.data_keys.choose_key(account, region, None)
            repo = self.emu.repos.create(account, region, name, description, {}, key.arn)
            self.emu.data_keys.create(repo, key)
        except ClientError as exc:
            return await self.list(request, session, exc.message, 400)
        return _done(request, session, f"Created repository {repo.name}.")

    async def confirm_delete(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        repo = self.emu.repos.find(session.principal.account, self.emu.config.region, name)
        if repo is None:
            return await self.list(request, session, f"{name[:100]} does not exist", 404)
        return self.console.render(request, "delete.html", session=session, repository=repo)

    async def delete(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form = request.state.form
        repo = self.emu.repos.find(session.principal.account, self.emu.config.region, name)
        if repo is None:
            return await self.list(request, session, f"{name[:100]} does not exist", 404)
        if form.get("confirm", "") != repo.name:
            return self.console.render(
                request,
                "delete.html",
                400,
                session,
                repository=repo,
                error="Type the repository's name to confirm.",
            )
        self._authorize(request, session, "codecommit:DeleteRepository", repo.arn)
        self.emu.repos.delete(repo.account, repo.region, repo.name)
        return _done(request, session, f"Deleted repository {repo.name}.")


def _done(request: Request, session: Session, notice: str) -> Response:
    """Back to the list, which shows `notice` once (kept in the session, never in the URL)."""
    from console.app import _redirect

    session.notes.append(notice)
    del session.notes[:-5]
    return _redirect(request, "/repositories")


def _take_notes(session: Session) -> list[str]:
    notes = list(session.notes)
    session.notes.clear()
    return notes
