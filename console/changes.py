"""Changes a repository's Code pages make: branches (create, delete, set default) and files (add,
edit, delete), each one CodeCommit operation run as the signed-in principal: CreateBranch,
DeleteBranch, UpdateDefaultBranch, PutFile, DeleteFile. A file change is a commit through the
one write path (the ref's compare-and-swap, its events and triggers), with the branch head the
form was shown at as its parent, so an edit over someone else's push is refused
(ParentCommitIdOutdatedException), not lost.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError

if TYPE_CHECKING:
    from console.app import Console
    from console.code import CodePages


class ChangePages:
    def __init__(self, console: Console, code: CodePages) -> None:
        self.console = console
        self.code = code

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}"
        return [
            Route(at + "/branches", page(self.branches), methods=["GET"]),
            Route(at + "/branches", page(self.create_branch), methods=["POST"]),
            Route(at + "/branches/delete", page(self.delete_branch), methods=["POST"]),
            Route(at + "/branches/default", page(self.default_branch), methods=["POST"]),
            Route(at + "/edit", page(self.edit), methods=["GET"]),
            Route(at + "/edit", page(self.put_file), methods=["POST"]),
            Route(at + "/delete-file", page(self.delete_file), methods=["POST"]),
        ]

    # -- branches -------------------------------------------------------------------------

    async def branches(
        self, request: Request, session: Session, error: str = "", status: int = 200
    ) -> Response:
        repo = await self.code.repository(request, session)
        names = await self.code.branch_names(request, session, repo["repositoryName"])
        return self.code.render(
            request,
            session,
            "branches.html",
            repo,
            "branches",
            status,
            branches=names,
            error=error,
            notices=_take_notes(session),
        )

    async def create_branch(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form = request.state.form
        try:
            commit = await self.code.resolve(request, session, name, form.get("from", "").strip())
            await self.console.call(
                request,
                session,
                "CreateBranch",
                {
                    "repositoryName": name,
                    "branchName": form.get("branch", "").strip(),
                    "commitId": commit,
                },
            )
        except ClientError as exc:
            return await self.branches(request, session, exc.message, 400)
        return _back(request, session, name, "/branches", f"Created branch {form['branch']}.")

    async def delete_branch(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        branch = request.state.form.get("branch", "")
        try:
            await self.console.call(
                request, session, "DeleteBranch", {"repositoryName": name, "branchName": branch}
            )
        except ClientError as exc:
            return await self.branches(request, session, exc.message, 400)
        return _back(request, session, name, "/branches", f"Deleted branch {branch}.")

    async def default_branch(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        branch = request.state.form.get("branch", "")
        try:
            await self.console.call(
                request,
                session,
                "UpdateDefaultBranch",
                {"repositoryName": name, "defaultBranchName": branch},
            )
        except ClientError as exc:
            return await self.branches(request, session, exc.message, 400)
        return _back(request, session, name, "/branches", f"{branch} is the default branch.")

    # -- files ----------------------------------------------------------------------------

    async def edit(
        self,
        request: Request,
        session: Session,
        error: str = "",
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> Response:
        """The add/edit form: a new file (no `path`) or the file at `path` on `branch`, with
        the branch's head as the parent the commit will name."""
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        branches = await self.code.branch_names(request, session, name)
        query = request.query_params
        values = dict(form or {})
        branch = values.get("branch") or query.get("branch") or repo.get("defaultBranch") or ""
        path = values.get("path", query.get("path", ""))
        content = values.get("content")
        parent = values.get("parent", "")
        if form is None and branch in branches:
            parent = await self.code.resolve(request, session, name, branch)
            if path and content is None:
                got = await self.console.call(
                    request,
                    session,
                    "GetFile",
                    {"repositoryName": name, "filePath": path, "commitSpecifier": parent},
                )
                content = base64.b64decode(got["fileContent"]).decode("utf-8", "replace")
        return self.code.render(
            request,
            session,
            "edit.html",
            repo,
            "code",
            status,
            branches=branches,
            branch=branch,
            path=path,
            content=content or "",
            parent=parent,
            message=values.get("message", ""),
            existing=bool(query.get("path")),
            error=error,
        )

    def author(self, session: Session, form: dict[str, str]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        who = session.principal.name or "root"
        params["name"] = form.get("author", "").strip() or who
        if form.get("email", "").strip():
            params["email"] = form["email"].strip()
        if form.get("message", "").strip():
            params["commitMessage"] = form["message"]
        if form.get("parent"):
            params["parentCommitId"] = form["parent"]
        return params

    async def put_file(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form: dict[str, str] = request.state.form
        content = form.get("content", "").replace("\r\n", "\n")  # a textarea sends CRLF
        params = {
            "repositoryName": name,
            "branchName": form.get("branch", "").strip(),
            "filePath": form.get("path", "").strip(),
            "fileContent": base64.b64encode(content.encode()).decode(),
            **self.author(session, form),
        }
        try:
            out = await self.console.call(request, session, "PutFile", params)
        except ClientError as exc:
            return await self.edit(request, session, exc.message, 400, form)
        note = f"Committed {params['filePath']} as {out['commitId'][:7]}."
        return _back(request, session, name, f"/commit/{out['commitId']}", note)

    async def delete_file(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form: dict[str, str] = request.state.form
        params = {
            "repositoryName": name,
            "branchName": form.get("branch", ""),
            "filePath": form.get("path", ""),
            **self.author(session, form),
        }
        out = await self.console.call(request, session, "DeleteFile", params)
        note = f"Deleted {params['filePath']} in {out['commitId'][:7]}."
        return _back(request, session, name, f"/commit/{out['commitId']}", note)


def _back(request: Request, session: Session, name: str, where: str, note: str) -> Response:
    from console.app import _redirect

    session.notes.append(note)
    del session.notes[:-5]
    return _redirect(request, f"/repositories/{_quote(name)}{where}")


def _quote(name: str) -> str:
    return quote(name, safe="")


def _take_notes(session: Session) -> list[str]:
    notes = list(session.notes)
    session.notes.clear()
    return notes
