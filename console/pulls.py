"""The Pull requests pages of a repository: list, create from two branches, view, comment,
approve, merge and close.

Each read and each change is one CodeCommit operation run as the signed-in principal
(`Console.call`, that is `emulator.api.invoke`): ListPullRequests, GetPullRequest,
GetMergeOptions and GetDifferences (the diff a pull request would bring, from the merge base),
CreatePullRequest, DescribePullRequestEvents, GetCommentsForPullRequest,
PostCommentForPullRequest (on the pull request or, with a location, on a line of a file),
PostCommentReply, GetPullRequestApprovalStates, EvaluatePullRequestApprovalRules,
UpdatePullRequestApprovalState, MergePullRequestByFastForward / BySquash / ByThreeWay and
UpdatePullRequestStatus. Whether a merge may happen (approval rules, a source that moved,
conflicts) is the operation's answer, shown as it words it; the page decides nothing.

Every form names what the page was showing (the revision approved, the source commit merged),
so an action on a pull request that changed since is refused by the operation, not applied to
something the user did not see.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError
from emulator.repos.text_diff import TextDiff

if TYPE_CHECKING:
    from console.app import Console
    from console.code import CodePages

PAGE_SIZE = 25
MAX_EVENTS = 100  # events shown on a pull request's page (one DescribePullRequestEvents call)
MAX_COMMENT_PAGES = 5  # of 100 comments each
MERGES = {
    "FAST_FORWARD_MERGE": "MergePullRequestByFastForward",
    "SQUASH_MERGE": "MergePullRequestBySquash",
    "THREE_WAY_MERGE": "MergePullRequestByThreeWay",
}
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_STATUS = {"OPEN", "CLOSED"}


def when(value: Any) -> str:
    """An operation's timestamp (epoch seconds) as a UTC date and time."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "")


def who(arn: Any) -> str:
    """Who an ARN names, as a page shows it: `alice` for a user, `root`, `Role/session` for
    an assumed role."""
    rest = str(arn or "").split(":", 5)[-1]
    return rest.removeprefix("user/").removeprefix("assumed-role/")


def numbered(diff: TextDiff) -> list[dict[str, Any]]:
    """The rows of a unified diff with the line each stands for: an added or unchanged line
    is a line of the AFTER version, a removed one of the BEFORE version (what a comment's
    location names)."""
    rows: list[dict[str, Any]] = []
    old = new = 0
    in_hunk = False
    for text in diff.lines:
        m = _HUNK.match(text)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
            in_hunk = True
            rows.append({"kind": "hunk", "text": text})
        elif not in_hunk:
            continue  # the ---/+++ header
        elif text.startswith("+"):
            rows.append({"kind": "add", "text": text, "new": new, "side": "AFTER", "line": new})
            new += 1
        elif text.startswith("-"):
            rows.append({"kind": "del", "text": text, "old": old, "side": "BEFORE", "line": old})
            old += 1
        else:
            row = {"kind": "ctx", "text": text, "old": old, "new": new}
            rows.append({**row, "side": "AFTER", "line": new})
            old += 1
            new += 1
    return rows


def threads(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A group's comments as threads: each first comment with the replies under it."""
    root_of: dict[str, str] = {}
    out: dict[str, dict[str, Any]] = {}
    for c in comments:
        parent = c.get("inReplyTo")
        root = root_of.get(parent, parent) if parent else None
        if root is None or root not in out:
            root_of[c["commentId"]] = c["commentId"]
            out[c["commentId"]] = {"root": c, "replies": []}
        else:
            root_of[c["commentId"]] = root
            out[root]["replies"].append(c)
    return list(out.values())


class PullRequestPages:
    def __init__(self, console: Console, code: CodePages) -> None:
        self.console = console
        self.code = code
        console.templates.env.filters.setdefault("when", when)
        console.templates.env.filters.setdefault("who", who)

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}/pull-requests"
        one = at + "/{pr:int}"
        return [
            Route(at, page(self.listing), methods=["GET"]),
            Route(at + "/create", page(self.create_form), methods=["GET"]),
            Route(at + "/create", page(self.create), methods=["POST"]),
            Route(one, page(self.view), methods=["GET"]),
            Route(one + "/comment", page(self.comment), methods=["POST"]),
            Route(one + "/reply", page(self.reply), methods=["POST"]),
            Route(one + "/approval", page(self.approval), methods=["POST"]),
            Route(one + "/merge", page(self.merge), methods=["POST"]),
            Route(one + "/close", page(self.close), methods=["POST"]),
        ]

    # -- list -----------------------------------------------------------------------------

    async def listing(self, request: Request, session: Session) -> Response:
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        status = request.query_params.get("status", "OPEN")
        status = status if status in _STATUS else "OPEN"
        params: dict[str, Any] = {
            "repositoryName": name,
            "pullRequestStatus": status,
            "maxResults": PAGE_SIZE,
        }
        token = request.query_params.get("token", "")
        if token:
            params["nextToken"] = token
        out = await self.console.call(request, session, "ListPullRequests", params)
        rows = []
        for pr_id in out.get("pullRequestIds", []):
            got = await self.console.call(
                request, session, "GetPullRequest", {"pullRequestId": pr_id}
            )
            rows.append(got["pullRequest"])
        return self.code.render(
            request,
            session,
            "pull_requests.html",
            repo,
            "pulls",
            state=status,
            pulls=rows,
            next_token=out.get("nextToken"),
            first_page=not token,
        )

    # -- create ---------------------------------------------------------------------------

    async def create_form(
        self,
        request: Request,
        session: Session,
        error: str = "",
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> Response:
        """Two branches, and once both are chosen the changes a pull request from `source`
        into `destination` would bring (from their merge base) with the merge options."""
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        branches = await self.code.branch_names(request, session, name)
        values = dict(request.query_params) | dict(form or {})
        destination = values.get("destination") or repo.get("defaultBranch") or ""
        others = [b for b in branches if b != destination]
        source = values.get("source") or (others[0] if others else "")
        compared: dict[str, Any] | None = None
        files: list[dict[str, Any]] = []
        more = False
        if source and destination and source != destination and source in branches:
            compared = await self.console.call(
                request,
                session,
                "GetMergeOptions",
                {
                    "repositoryName": name,
                    "sourceCommitSpecifier": source,
                    "destinationCommitSpecifier": destination,
                },
            )
            files, more = await self.code.diff(
                request,
                session,
                name,
                compared.get("baseCommitId") or compared["destinationCommitId"],
                compared["sourceCommitId"],
            )
            for f in files:
                f["rows"] = None if f["diff"] is None else numbered(f["diff"])
        return self.code.render(
            request,
            session,
            "pull_request_create.html",
            repo,
            "pulls",
            status,
            branches=branches,
            source=source,
            destination=destination,
            compared=compared,
            files=files,
            more=more,
            title=values.get("title", ""),
            description=values.get("description", ""),
            token=values.get("token") or uuid.uuid4().hex,
            error=error,
        )

    async def create(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        form: dict[str, str] = request.state.form
        params: dict[str, Any] = {
            "title": form.get("title", "").strip(),
            "targets": [
                {
                    "repositoryName": name,
                    "sourceReference": form.get("source", ""),
                    "destinationReference": form.get("destination", ""),
                }
            ],
            # The form's own token: a second submission of the same form is the same request.
            "clientRequestToken": form.get("token", "") or uuid.uuid4().hex,
        }
        if form.get("description", "").strip():
            params["description"] = form["description"].replace("\r\n", "\n")
        try:
            out = await self.console.call(request, session, "CreatePullRequest", params)
        except ClientError as exc:
            return await self.create_form(request, session, exc.message, 400, form)
        pr = out["pullRequest"]
        note = f"Created pull request {pr['pullRequestId']}."
        return _back(request, session, name, pr["pullRequestId"], note)

    # -- view -----------------------------------------------------------------------------

    async def view(
        self, request: Request, session: Session, error: str = "", status: int = 200
    ) -> Response:
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        pr_id = str(request.path_params["pr"])
        pr = (
            await self.console.call(request, session, "GetPullRequest", {"pullRequestId": pr_id})
        )["pullRequest"]
        target = pr["pullRequestTargets"][0]
        if target["repositoryName"] != name:
            return _back(request, session, target["repositoryName"], pr_id, "")
        revision = pr["revisionId"]
        approvals = await self.console.call(
            request,
            session,
            "GetPullRequestApprovalStates",
            {"pullRequestId": pr_id, "revisionId": revision},
        )
        evaluation = await self.console.call(
            request,
            session,
            "EvaluatePullRequestApprovalRules",
            {"pullRequestId": pr_id, "revisionId": revision},
        )
        events = await self.console.call(
            request,
            session,
            "DescribePullRequestEvents",
            {"pullRequestId": pr_id, "maxResults": MAX_EVENTS},
        )
        groups = await self._comments(request, session, pr_id)
        before = target.get("mergeBase") or target["destinationCommit"]
        after = target["sourceCommit"]
        files, more = await self.code.diff(request, session, name, before, after)
        # Comments on a line of this revision's diff are shown at that line; the others
        # (on the pull request, or on an earlier revision) in the conversation.
        at_line: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        general: list[dict[str, Any]] = []
        for g in groups:
            place = g.get("location")
            entry = {"group": g, "threads": threads(g.get("comments", []))}
            if (
                place
                and place.get("filePosition")
                and g.get("afterCommitId") == after
                and g.get("beforeCommitId") == before
            ):
                key = (place["filePath"], place["relativeFileVersion"], place["filePosition"])
                at_line.setdefault(key, []).append(entry)
            else:
                general.append(entry)
        shown: set[tuple[str, str, int]] = set()
        for f in files:
            f["rows"] = None if f["diff"] is None else numbered(f["diff"])
            for row in f["rows"] or []:
                if "line" in row:
                    key = (f["path"], row["side"], row["line"])
                    row["comments"] = at_line.get(key, [])
                    shown.add(key)
        general += [e for k, found in at_line.items() if k not in shown for e in found]
        me = session.principal.arn
        approved = any(
            a["userArn"] == me and a["approvalState"] == "APPROVE"
            for a in approvals.get("approvals", [])
        )
        query = request.query_params
        line_form: tuple[str, str, int] | None = None
        if query.get("path") and query.get("line", "").isdigit():
            line_form = (query["path"], query.get("side", "AFTER"), int(query["line"]))
        return self.code.render(
            request,
            session,
            "pull_request.html",
            repo,
            "pulls",
            status,
            pr=pr,
            target=target,
            approvals=approvals.get("approvals", []),
            evaluation=evaluation["evaluation"],
            approved=approved,
            events=events.get("pullRequestEvents", []),
            more_events=bool(events.get("nextToken")),
            general=general,
            files=files,
            more=more,
            line_form=line_form,
            merges=list(MERGES),
            diff_before=before,
            token=lambda: uuid.uuid4().hex,
            error=error,
        )

    async def _comments(
        self, request: Request, session: Session, pr_id: str
    ) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = []
        params: dict[str, Any] = {"pullRequestId": pr_id}
        for _ in range(MAX_COMMENT_PAGES):
            out = await self.console.call(request, session, "GetCommentsForPullRequest", params)
            groups += out.get("commentsForPullRequestData", [])
            if not out.get("nextToken"):
                break
            params["nextToken"] = out["nextToken"]
        # A page boundary may split one place's comments into two groups: join them again.
        joined: dict[tuple[Any, ...], dict[str, Any]] = {}
        for g in groups:
            place = g.get("location") or {}
            key = (
                g.get("beforeCommitId"),
                g.get("afterCommitId"),
                place.get("filePath"),
                place.get("filePosition"),
                place.get("relativeFileVersion"),
            )
            if key in joined:
                joined[key]["comments"] += g.get("comments", [])
            else:
                joined[key] = {**g, "comments": list(g.get("comments", []))}
        return list(joined.values())

    # -- actions --------------------------------------------------------------------------

    async def _act(
        self, request: Request, session: Session, operation: str, params: dict[str, Any], note: str
    ) -> Response:
        """Run `operation`; back to the pull request with `note`, or the page again with the
        operation's refusal (nothing changed)."""
        try:
            await self.console.call(request, session, operation, params)
        except ClientError as exc:
            return await self.view(request, session, exc.message, 400)
        return _back(request, session, request.path_params["name"], _pr(request), note)

    async def comment(self, request: Request, session: Session) -> Response:
        form: dict[str, str] = request.state.form
        params: dict[str, Any] = {
            "pullRequestId": _pr(request),
            "repositoryName": request.path_params["name"],
            "beforeCommitId": form.get("before", ""),
            "afterCommitId": form.get("after", ""),
            "content": form.get("content", "").replace("\r\n", "\n"),
            "clientRequestToken": form.get("token", "") or uuid.uuid4().hex,
        }
        if form.get("path"):
            params["location"] = {
                "filePath": form["path"],
                "relativeFileVersion": form.get("side", "AFTER"),
            }
            if form.get("line", "").isdigit():
                params["location"]["filePosition"] = int(form["line"])
        return await self._act(request, session, "PostCommentForPullRequest", params, "Commented.")

    async def reply(self, request: Request, session: Session) -> Response:
        form: dict[str, str] = request.state.form
        params = {
            "inReplyTo": form.get("in_reply_to", ""),
            "content": form.get("content", "").replace("\r\n", "\n"),
            "clientRequestToken": form.get("token", "") or uuid.uuid4().hex,
        }
        return await self._act(request, session, "PostCommentReply", params, "Replied.")

    async def approval(self, request: Request, session: Session) -> Response:
        form: dict[str, str] = request.state.form
        state = form.get("state", "")
        params = {
            "pullRequestId": _pr(request),
            "revisionId": form.get("revision", ""),
            "approvalState": state,
        }
        note = "Approved." if state == "APPROVE" else "Approval revoked."
        return await self._act(request, session, "UpdatePullRequestApprovalState", params, note)

    async def merge(self, request: Request, session: Session) -> Response:
        form: dict[str, str] = request.state.form
        strategy = form.get("strategy", "")
        operation = MERGES.get(strategy)
        if operation is None:
            return await self.view(request, session, "Choose a merge strategy.", 400)
        params: dict[str, Any] = {
            "pullRequestId": _pr(request),
            "repositoryName": request.path_params["name"],
            "sourceCommitId": form.get("source_commit", ""),
        }
        if strategy != "FAST_FORWARD_MERGE":
            params["authorName"] = (
                form.get("author", "").strip() or session.principal.name or "root"
            )
            if form.get("email", "").strip():
                params["email"] = form["email"].strip()
            if form.get("message", "").strip():
                params["commitMessage"] = form["message"].replace("\r\n", "\n")
        label = strategy.replace("_MERGE", "").replace("_", "-").lower()
        return await self._act(request, session, operation, params, f"Merged ({label}).")

    async def close(self, request: Request, session: Session) -> Response:
        params = {"pullRequestId": _pr(request), "pullRequestStatus": "CLOSED"}
        return await self._act(request, session, "UpdatePullRequestStatus", params, "Closed.")


def _pr(request: Request) -> str:
    return str(request.path_params["pr"])


def _back(request: Request, session: Session, name: str, pr_id: str, note: str) -> Response:
    from console.app import _redirect

    if note:
        session.notes.append(note)
        del session.notes[:-5]
    return _redirect(request, f"/repositories/{quote(name, safe='')}/pull-requests/{pr_id}")
