"""Upload a file: a multipart/form-data form with one file input, committed through PutFile,
the same operation (and so the same write path: authorization, the ref's compare-and-swap,
events and triggers) as adding a file in the editor. The bytes are committed as they came.

The body is bounded before it is read: a Content-Length past PutFile's 6 MB file limit (plus
room for the form's other fields) is refused at once with the API's own
FileContentSizeLimitExceededException, and a body without one stops being read at that bound.
A file within the bound but over 6 MB is PutFile's to refuse, with the same error.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.repos.tree_edit import MAX_FILE_SIZE

if TYPE_CHECKING:
    from console.app import Console
    from console.changes import ChangePages
    from console.code import CodePages

MAX_FIELDS_SIZE = 64 * 1024  # the form's other fields and the multipart framing
MAX_BODY = MAX_FILE_SIZE + MAX_FIELDS_SIZE
MAX_FIELDS = 16


async def read_upload(request: Request) -> dict[str, str] | None:
    """A multipart/form-data form of at most MAX_BODY bytes with at most one file: its fields
    (one value per name), the file's name and bytes kept in `request.state.upload`; None for
    a body that is no such form. A larger body raises FileContentSizeLimitExceededException
    having read no more than MAX_BODY bytes of it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        return None
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        return None
    if declared > MAX_BODY:
        raise error("FileContentSizeLimitExceededException")

    async def bounded() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > MAX_BODY:
                raise error("FileContentSizeLimitExceededException")
            yield chunk

    parser = MultiPartParser(
        request.headers,
        bounded(),
        max_files=1,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELDS_SIZE,
    )
    try:
        parsed = await parser.parse()
    except MultiPartException:
        return None
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    try:
        for key, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                upload = (value.filename or "", await value.read())
            elif key not in fields:
                fields[key] = value
    finally:
        await parsed.close()
    request.state.upload = upload
    return fields


class UploadPages:
    def __init__(self, console: Console, code: CodePages, changes: ChangePages) -> None:
        self.console = console
        self.code = code
        self.changes = changes

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}/upload"
        return [
            Route(at, page(self.form), methods=["GET"]),
            Route(at, page(self.upload, reader=read_upload), methods=["POST"]),
        ]

    async def form(
        self,
        request: Request,
        session: Session,
        error: str = "",
        status: int = 200,
        values: dict[str, str] | None = None,
    ) -> Response:
        """The upload form, with the branch's head as the parent the commit will name."""
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        branches = await self.code.branch_names(request, session, name)
        query = request.query_params
        given = dict(values or {})
        branch = given.get("branch") or query.get("branch") or repo.get("defaultBranch") or ""
        parent = given.get("parent", "")
        if values is None and branch in branches:
            parent = await self.code.resolve(request, session, name, branch)
        return self.code.render(
            request,
            session,
            "upload.html",
            repo,
            "code",
            status,
            branches=branches,
            branch=branch,
            folder=given.get("folder", query.get("path", "")),
            parent=parent,
            message=given.get("message", ""),
            error=error,
        )

    async def upload(self, request: Request, session: Session) -> Response:
        from console.changes import _back

        name = request.path_params["name"]
        form: dict[str, str] = request.state.form
        upload: tuple[str, bytes] | None = request.state.upload
        filename = (upload[0] if upload else "").replace("\\", "/").rsplit("/", 1)[-1]
        if upload is None or not filename:
            return await self.form(request, session, "Choose a file to upload.", 400, form)
        folder = form.get("folder", "").strip().strip("/")
        path = f"{folder}/{filename}" if folder else filename
        params = {
            "repositoryName": name,
            "branchName": form.get("branch", "").strip(),
            "filePath": path,
            "fileContent": base64.b64encode(upload[1]).decode(),
            **self.changes.author(session, form),
        }
        try:
            out = await self.console.call(request, session, "PutFile", params)
        except ClientError as exc:
            return await self.form(request, session, f"{exc.code}: {exc.message}", 400, form)
        note = f"Uploaded {path} as {out['commitId'][:7]}."
        return _back(request, session, name, f"/commit/{out['commitId']}", note)
