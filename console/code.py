"""The Code pages of a repository: folders, files, raw bytes, commits and a commit's diff.

Every read is a CodeCommit operation run as the signed-in principal (`Console.call`, that is
`emulator.api.invoke`): GetRepository, ListBranches, GetBranch, GetFolder, GetFile, GetBlob,
GetCommit, GetDifferences. A principal refused one sees the denial page naming it. What a page
shows of a file is escaped text (Jinja's autoescape), never the file's own markup; raw bytes
are served with a content type decided here from the bytes (an image git stores, or
`application/octet-stream`), `nosniff` and a sandboxing CSP, so a pushed HTML or SVG file never
runs as this origin.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError
from emulator.repos.text_diff import TextDiff, is_binary, unified

if TYPE_CHECKING:
    from console.app import Console

COMMITS_PAGE = 25
MAX_DIFF_FILES = 100  # files listed in a commit view
MAX_DIFF_TEXT = 30  # of which at most this many get a text diff
_README = re.compile(r"readme(\.(md|markdown|txt|rst))?", re.IGNORECASE)
_SHA = re.compile(r"[0-9a-f]{40}")
# Images a browser shows from their bytes; SVG is left out (it is a document that runs script).
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def image_type(data: bytes) -> str | None:
    for magic, kind in _IMAGES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class CodePages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.emu = console.emu

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}"
        return [
            Route(at, page(self.code), methods=["GET"]),
            Route(at + "/file", page(self.file), methods=["GET"]),
            Route(at + "/raw", page(self.raw), methods=["GET"]),
            Route(at + "/commits", page(self.commits), methods=["GET"]),
            Route(at + "/commit/{commit}", page(self.commit), methods=["GET"]),
        ]

    # -- shared ---------------------------------------------------------------------------

    async def repository(self, request: Request, session: Session) -> dict[str, Any]:
        name = request.path_params["name"]
        out = await self.console.call(request, session, "GetRepository", {"repositoryName": name})
        return dict(out["repositoryMetadata"])

    async def branch_names(self, request: Request, session: Session, name: str) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"repositoryName": name}
            if token:
                params["nextToken"] = token
            out = await self.console.call(request, session, "ListBranches", params)
            names += out.get("branches", [])
            token = out.get("nextToken")
            if not token:
                return sorted(names)

    async def resolve(self, request: Request, session: Session, name: str, ref: str) -> str:
        """The commit id `ref` (a branch, a tag, a commit id) names."""
        if _SHA.fullmatch(ref):
            return ref
        try:
            out = await self.console.call(
                request, session, "GetBranch", {"repositoryName": name, "branchName": ref}
            )
            return str(out["branch"]["commitId"])
        except ClientError as exc:
            if exc.code != "BranchDoesNotExistException":
                raise
        # A tag or an abbreviated id: GetFolder resolves any commit specifier.
        out = await self.console.call(
            request,
            session,
            "GetFolder",
            {"repositoryName": name, "folderPath": "/", "commitSpecifier": ref},
        )
        return str(out["commitId"])

    def render(
        self,
        request: Request,
        session: Session,
        template: str,
        repo: dict[str, Any],
        tab: str,
        status: int = 200,
        **values: Any,
    ) -> Response:
        if "notices" not in values:
            values["notices"] = list(session.notes)
            session.notes.clear()
        return self.console.render(request, template, status, session, repo=repo, tab=tab, **values)

    # -- pages ----------------------------------------------------------------------------

    async def code(self, request: Request, session: Session) -> Response:
        repo = await self.repository(request, session)
        name = repo["repositoryName"]
        branches = await self.branch_names(request, session, name)
        if not branches:
            return self.render(request, session, "code.html", repo, "code", branches=[], ref="")
        ref = request.query_params.get("ref") or repo.get("defaultBranch") or branches[0]
        path = request.query_params.get("path", "").strip("/")
        folder = await self.console.call(
            request,
            session,
            "GetFolder",
            {"repositoryName": name, "folderPath": "/" + path, "commitSpecifier": ref},
        )
        readme: str | None = None
        for f in folder.get("files", []):
            if _README.fullmatch(f["relativePath"]):
                got = await self.console.call(
                    request,
                    session,
                    "GetFile",
                    {
                        "repositoryName": name,
                        "filePath": f["absolutePath"],
                        "commitSpecifier": folder["commitId"],
                    },
                )
                data = base64.b64decode(got["fileContent"])
                readme = None if is_binary(data) else data.decode("utf-8")
                break
        return self.render(
            request,
            session,
            "code.html",
            repo,
            "code",
            branches=branches,
            ref=ref,
            path=path,
            crumbs=_crumbs(path),
            folder=folder,
            readme=readme,
        )

    async def _file(self, request: Request, session: Session) -> tuple[str, str, dict[str, Any]]:
        name = request.path_params["name"]
        path = request.query_params.get("path", "")
        ref = request.query_params.get("ref", "")
        params = {"repositoryName": name, "filePath": path}
        if ref:
            params["commitSpecifier"] = ref
        return name, ref, await self.console.call(request, session, "GetFile", params)

    async def file(self, request: Request, session: Session) -> Response:
        repo = await self.repository(request, session)
        _, ref, got = await self._file(request, session)
        data = base64.b64decode(got["fileContent"])
        image = image_type(data)
        lines: list[str] | None = None
        if image is None and not is_binary(data):
            lines = data.decode("utf-8").splitlines()
        path = got["filePath"]
        return self.render(
            request,
            session,
            "file.html",
            repo,
            "code",
            ref=ref or repo.get("defaultBranch") or "",
            path=path,
            crumbs=_crumbs(path),
            file=got,
            size=len(data),
            image=image,
            lines=lines,
        )

    async def raw(self, request: Request, session: Session) -> Response:
        _, _, got = await self._file(request, session)
        data = base64.b64decode(got["fileContent"])
        kind = image_type(data)
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", got["filePath"].rsplit("/", 1)[-1])[:100]
        disposition = "inline" if kind else "attachment"
        response = Response(
            data,
            media_type=kind or "application/octet-stream",
            headers={"Content-Disposition": f'{disposition}; filename="{filename or "file"}"'},
        )
        from console.app import _hardened

        response = _hardened(response)
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    async def commits(self, request: Request, session: Session) -> Response:
        repo = await self.repository(request, session)
        name = repo["repositoryName"]
        branches = await self.branch_names(request, session, name)
        ref = request.query_params.get("ref") or repo.get("defaultBranch") or ""
        start = request.query_params.get("from", "")
        listed: list[dict[str, Any]] = []
        older: str | None = None
        if branches or start:
            at: str | None = start if _SHA.fullmatch(start) else None
            if at is None:
                at = await self.resolve(request, session, name, ref)
            while at is not None and len(listed) < COMMITS_PAGE:
                out = await self.console.call(
                    request, session, "GetCommit", {"repositoryName": name, "commitId": at}
                )
                commit = out["commit"]
                listed.append(commit)
                parents = commit.get("parents") or []
                at = parents[0] if parents else None  # first parents, as `git log --first-parent`
            older = at
        return self.render(
            request,
            session,
            "commits.html",
            repo,
            "commits",
            branches=branches,
            ref=ref,
            commits=listed,
            older=older,
        )

    async def commit(self, request: Request, session: Session) -> Response:
        repo = await self.repository(request, session)
        name = repo["repositoryName"]
        out = await self.console.call(
            request,
            session,
            "GetCommit",
            {"repositoryName": name, "commitId": request.path_params["commit"]},
        )
        commit = out["commit"]
        parents = commit.get("parents") or []
        files, more = await self.diff(
            request, session, name, parents[0] if parents else None, commit["commitId"]
        )
        return self.render(
            request,
            session,
            "commit.html",
            repo,
            "commits",
            commit=commit,
            files=files,
            more=more,
        )

    async def diff(
        self,
        request: Request,
        session: Session,
        name: str,
        before: str | None,
        after: str,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The files changed from `before` (None: nothing) to `after` (GetDifferences), the
        first MAX_DIFF_TEXT with their unified diff, and whether more changed than are listed."""
        params: dict[str, Any] = {"repositoryName": name, "afterCommitSpecifier": after}
        if before:
            params["beforeCommitSpecifier"] = before
        changes: list[dict[str, Any]] = []
        more = False
        while True:
            got = await self.console.call(request, session, "GetDifferences", params)
            changes += got.get("differences", [])
            if not got.get("NextToken") or len(changes) >= MAX_DIFF_FILES:
                more = bool(got.get("NextToken")) or len(changes) > MAX_DIFF_FILES
                break
            params["NextToken"] = got["NextToken"]
        changes = changes[:MAX_DIFF_FILES]
        files = []
        for n, change in enumerate(changes):
            old_side, new_side = change.get("beforeBlob"), change.get("afterBlob")
            path = (new_side or old_side or {}).get("path", "")
            diff: TextDiff | None = None
            if n < MAX_DIFF_TEXT:
                old = await self._blob(request, session, name, old_side)
                new = await self._blob(request, session, name, new_side)
                diff = unified(
                    old,
                    new,
                    (old_side or new_side or {}).get("path", ""),
                    (new_side or {}).get("path", ""),
                )
            files.append({"path": path, "change": change["changeType"], "diff": diff})
        return files, more

    async def _blob(
        self, request: Request, session: Session, name: str, side: dict[str, Any] | None
    ) -> bytes | None:
        if not side or side.get("mode") == "160000":  # a submodule: no blob here
            return None
        out = await self.console.call(
            request, session, "GetBlob", {"repositoryName": name, "blobId": side["blobId"]}
        )
        return base64.b64decode(out["content"])


def _crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path so far) for each part of `path`."""
    parts = [p for p in path.split("/") if p]
    return [(p, "/".join(parts[: i + 1])) for i, p in enumerate(parts)]
