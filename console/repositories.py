"""The Repositories page: list (search, paging), create (with tags and a KMS key), delete with
confirmation.

Each action is a CodeCommit operation run as the signed-in principal through
`emulator.api.invoke` (ListRepositories, BatchGetRepositories, GetRepository,
CreateRepository, DeleteRepository; KMS's ListAliases and ListKeys offer the account's keys):
the API's validation, access declaration and handler, so the page holds no rule of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError

if TYPE_CHECKING:
    from console.app import Console

PAGE_SIZE = 25  # BatchGetRepositories' limit, so one page is one call
MAX_SEARCH = 100
TAG_ROWS = 3  # key/value rows the create form shows
MAX_TAG_ROWS = 50  # rows read back (CodeCommit's limit on a repository's tags)
MAX_KEYS = 100  # keys and aliases offered in the create form


class Pages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.emu = console.emu

    def routes(self) -> list[Route]:
        page = self.console.page
        return [
            Route("/repositories", page(self.listing), methods=["GET"]),
            Route("/repositories", page(self.create), methods=["POST"]),
            Route("/repositories/{name}/delete", page(self.confirm_delete), methods=["GET"]),
            Route("/repositories/{name}/delete", page(self.delete), methods=["POST"]),
        ]

    async def _names(self, request: Request, session: Session) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"sortBy": "repositoryName", "order": "ascending"}
            if token:
                params["nextToken"] = token
            out = await self.console.call(request, session, "ListRepositories", params)
            names += [r["repositoryName"] for r in out.get("repositories", [])]
            token = out.get("nextToken")
            if not token:
                return names

    async def listing(
        self, request: Request, session: Session, error: str = "", status: int = 200
    ) -> Response:
        query = request.query_params.get("q", "")[:MAX_SEARCH].strip()
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            number = 1
        names = await self._names(request, session)
        if query:
            names = [n for n in names if query.lower() in n.lower()]
        names.sort(key=str.lower)
        pages = max(1, -(-len(names) // PAGE_SIZE))
        number = min(number, pages)
        shown = names[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        rows = await self._rows(request, session, shown)
        return self.console.render(
            request,
            "repositories.html",
            status,
            session,
            repositories=rows,
            query=query,
            page=number,
            pages=pages,
            total=len(names),
            error=error,
            notices=_take_notes(session),
            kms_keys=await self._kms_keys(request, session),
            tag_rows=TAG_ROWS,
            draft=getattr(request.state, "form", None) or {},
        )

    async def _kms_keys(self, request: Request, session: Session) -> list[tuple[str, str]]:
        """(value, label) for each of the account's KMS aliases and keys the principal may
        list (ListAliases, ListKeys); none when it may not, and a key is then typed."""
        from console.app import Denied

        offered: list[tuple[str, str]] = []
        try:
            aliases = await self.console.call(
                request, session, "ListAliases", {"Limit": MAX_KEYS}, "kms"
            )
            named: dict[str, list[str]] = {}
            for a in aliases.get("Aliases", []):
                if a.get("TargetKeyId"):
                    offered.append((a["AliasName"], a["TargetKeyId"]))
                    named.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
            keys = await self.console.call(request, session, "ListKeys", {"Limit": MAX_KEYS}, "kms")
        except (Denied, ClientError):
            return offered
        for k in keys.get("Keys", []):
            offered.append((k["KeyArn"], ", ".join(named.get(k["KeyId"], [])) or k["KeyId"]))
        return offered

    async def _rows(
        self, request: Request, session: Session, names: list[str]
    ) -> list[dict[str, Any]]:
        """The shown repositories' metadata (BatchGetRepositories); their names alone when
        the principal may list repositories but not read them."""
        rows: dict[str, dict[str, Any]] = {n: {"repositoryName": n} for n in names}
        if not names:
            return []
        from console.app import Denied

        try:
            out = await self.console.call(
                request, session, "BatchGetRepositories", {"repositoryNames": names}
            )
        except (Denied, ClientError):
            return list(rows.values())
        for repo in out.get("repositories", []):
            rows[repo["repositoryName"]] = repo
        return list(rows.values())

    async def create(self, request: Request, session: Session) -> Response:
        form = request.state.form
        params: dict[str, Any] = {"repositoryName": form.get("name", "").strip()}
        if form.get("description", ""):
            params["repositoryDescription"] = form["description"]
        tags = _tags(form)
        if tags:
            params["tags"] = tags
        if form.get("kms_key_id", "").strip():
            params["kmsKeyId"] = form["kms_key_id"].strip()
        try:
            out = await self.console.call(request, session, "CreateRepository", params)
        except ClientError as exc:
            return await self.listing(request, session, exc.message, 400)
        name = out["repositoryMetadata"]["repositoryName"]
        # On to its connection steps, as CodeCommit's console goes after creating one.
        return _done(request, session, f"Created repository {name}.", f"/{quote(name)}/connect")

    async def confirm_delete(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        try:
            out = await self.console.call(
                request, session, "GetRepository", {"repositoryName": name}
            )
        except ClientError as exc:
            return await self.listing(request, session, exc.message, 404)
        repo = out["repositoryMetadata"]
        return self.console.render(request, "delete.html", session=session, repository=repo)

    async def delete(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form = request.state.form
        if form.get("confirm", "") != name:
            return self.console.render(
                request,
                "delete.html",
                400,
                session,
                repository={"repositoryName": name},
                error="Type the repository's name to confirm.",
            )
        try:
            out = await self.console.call(
                request, session, "DeleteRepository", {"repositoryName": name}
            )
        except ClientError as exc:
            return await self.listing(request, session, exc.message, 400)
        if not out.get("repositoryId"):
            # DeleteRepository answers success for a name that does not exist, as on AWS.
            return await self.listing(request, session, f"{name[:100]} does not exist", 404)
        return _done(request, session, f"Deleted repository {name}.")


def _tags(form: dict[str, str]) -> dict[str, str]:
    """The form's tag rows (`tag_key_N`, `tag_value_N`) with a key; CreateRepository judges
    them."""
    tags: dict[str, str] = {}
    for n in range(MAX_TAG_ROWS):
        key = form.get(f"tag_key_{n}", "")
        if key:
            tags[key] = form.get(f"tag_value_{n}", "")
    return tags


def _done(request: Request, session: Session, notice: str, then: str = "") -> Response:
    """Back to the list, which shows `notice` once (kept in the session, never in the URL)."""
    from console.app import _redirect

    session.notes.append(notice)
    del session.notes[:-5]
    return _redirect(request, "/repositories" + then)


def _take_notes(session: Session) -> list[str]:
    notes = list(session.notes)
    session.notes.clear()
    return notes
