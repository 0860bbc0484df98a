"""The console's Pull requests pages over plain HTTP: create, comment, approve, merge, close,
each through the pull request API as the signed-in user."""

from __future__ import annotations

import json
import re
import uuid

from console_helpers import console_user as _user
from console_helpers import csrf as _csrf
from console_helpers import hidden as _hidden
from console_helpers import signed_in as _signed_in

from tests.conftest import ACCOUNT, Server

PASSWORD = "Corr3ct-Horse!"
EVIL = '<script>alert("pwned")</script>'
ALL = {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}
ONE_APPROVAL = json.dumps(
    {"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]}
)


def _repo_with_feature(srv: Server) -> str:
    """A repository whose `feature` branch changes line 2 of a.txt on `main`."""
    cc = srv.client("codecommit")
    repo = f"pr-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    head = cc.create_commit(
        repositoryName=repo,
        branchName="main",
        putFiles=[{"filePath": "a.txt", "fileContent": b"one\ntwo\nthree\n"}],
    )["commitId"]
    cc.create_branch(repositoryName=repo, branchName="feature", commitId=head)
    cc.put_file(
        repositoryName=repo,
        branchName="feature",
        filePath="a.txt",
        fileContent=b"one\nTWO\nthree\n",
        parentCommitId=head,
    )
    return repo


def _open_pr(srv: Server, repo: str) -> str:
    cc = srv.client("codecommit")
    pr = cc.create_pull_request(
        title="t",
        targets=[
            {"repositoryName": repo, "sourceReference": "feature", "destinationReference": "main"}
        ],
    )["pullRequest"]
    return str(pr["pullRequestId"])


def test_pull_request_flow_create_comment_approve_by_another_user_and_merge(
    server: Server,
) -> None:
    repo = _repo_with_feature(server)
    cc = server.client("codecommit")
    author, reviewer = _user(server, [ALL]), _user(server, [ALL])
    at = f"/console/repositories/{repo}/pull-requests"
    with _signed_in(server, author) as c:
        # Create: the two branches' diff first, then the form.
        r = c.get(at + "/create", params={"source": "feature", "destination": "main"})
        assert r.status_code == 200
        assert '<tr class="del" id="f1-B2">' in r.text and "<pre>-two</pre>" in r.text
        assert '<tr class="add" id="f1-A2">' in r.text and "<pre>+TWO</pre>" in r.text
        assert "Mergeable: fast-forward, squash, three-way." in r.text
        form = {
            "csrf": _csrf(r.text),
            "token": _hidden(r.text, "token"),
            "source": "feature",
            "destination": "main",
            "title": f"Title {EVIL}",
            "description": f"Why {EVIL}",
        }
        r = c.post(at + "/create", data=form)
        assert r.status_code == 303
        pr_id = r.headers["location"].rsplit("/", 1)[-1]
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert pr["title"] == f"Title {EVIL}" and pr["authorArn"].endswith(f"user/{author}")
        # The same form sent twice is the same request: one pull request.
        assert c.post(at + "/create", data=form).status_code == 303
        ids = cc.list_pull_requests(repositoryName=repo)["pullRequestIds"]
        assert ids == [pr_id]
        cc.create_pull_request_approval_rule(
            pullRequestId=pr_id, approvalRuleName="one", approvalRuleContent=ONE_APPROVAL
        )

        page = c.get(f"{at}/{pr_id}").text
        assert "<script>" not in page
        assert "Title &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
        assert "Not approved: one not satisfied." in page
        csrf = _csrf(page)
        # A comment on the pull request and one on line 2 of a.txt (after), both escaped.
        base = {
            "csrf": csrf,
            "before": _hidden(page, "before"),
            "after": _hidden(page, "after"),
        }
        r = c.post(f"{at}/{pr_id}/comment", data={**base, "content": f"general {EVIL}"})
        assert r.status_code == 303
        line_page = c.get(f"{at}/{pr_id}", params={"path": "a.txt", "side": "AFTER", "line": 2})
        assert 'class="line-comment"' in line_page.text
        line = {**base, "path": "a.txt", "side": "AFTER", "line": "2", "content": f"line {EVIL}"}
        assert c.post(f"{at}/{pr_id}/comment", data=line).status_code == 303
        groups = cc.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
        on_line = [g for g in groups if g.get("location")]
        assert on_line[0]["location"] == {
            "filePath": "a.txt",
            "filePosition": 2,
            "relativeFileVersion": "AFTER",
        }
        root = on_line[0]["comments"][0]["commentId"]
        r = c.post(f"{at}/{pr_id}/reply", data={"csrf": csrf, "in_reply_to": root, "content": "ok"})
        assert r.status_code == 303
        page = c.get(f"{at}/{pr_id}").text
        assert "<script>" not in page
        assert "general &lt;script&gt;" in page
        # The line comment and its reply sit under line 2 of the diff.
        row = page.index('<tr class="add" id="f1-A2">')
        assert page.index("line &lt;script&gt;", row) < page.index("</table>", row)
        assert page.index('<div class="content">ok</div>', row) < page.index("</table>", row)

        # Merging before the rule is satisfied: the API's refusal, nothing merged.
        merge = {
            "csrf": csrf,
            "strategy": "SQUASH_MERGE",
            "source_commit": _hidden(page, "source_commit"),
            "message": "squashed",
        }
        r = c.post(f"{at}/{pr_id}/merge", data=merge)
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert "approval rules" in r.text.lower()
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert pr["pullRequestStatus"] == "OPEN"
        assert not pr["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]

    with _signed_in(server, reviewer) as c:
        page = c.get(f"{at}/{pr_id}").text
        revision = _hidden(page, "revision")
        form = {"csrf": _csrf(page), "revision": revision, "state": "APPROVE"}
        assert c.post(f"{at}/{pr_id}/approval", data=form).status_code == 303
        states = cc.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)
        assert states["approvals"] == [
            {"userArn": f"arn:aws:iam::{ACCOUNT}:user/{reviewer}", "approvalState": "APPROVE"}
        ]
        page = c.get(f"{at}/{pr_id}").text
        assert "Approved: every approval rule is satisfied." in page
        assert "Revoke approval" in page and f'<span class="approver">{reviewer}</span>' in page

    with _signed_in(server, author) as c:
        r = c.post(f"{at}/{pr_id}/merge", data={**merge, "csrf": _csrf(c.get(at).text)})
        assert r.status_code == 303
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        meta = pr["pullRequestTargets"][0]["mergeMetadata"]
        assert meta["isMerged"] and meta["mergeOption"] == "SQUASH_MERGE"
        assert meta["mergedBy"].endswith(f"user/{author}")
        got = cc.get_file(repositoryName=repo, filePath="a.txt", commitSpecifier="main")
        assert got["fileContent"] == b"one\nTWO\nthree\n"
        page = c.get(f"{at}/{pr_id}").text
        assert '<strong class="pr-status">Merged</strong>' in page
        assert "merge state changed" in page  # the events list
        closed = c.get(at, params={"status": "CLOSED"}).text
        assert f'pull-requests/{pr_id}">{pr_id}</a>' in closed


def test_denied_merge_shows_the_denial_page_and_merges_nothing(server: Server) -> None:
    repo = _repo_with_feature(server)
    pr_id = _open_pr(server, repo)
    cc = server.client("codecommit")
    deny = {
        "Sid": "NoMerging",
        "Effect": "Deny",
        "Action": "codecommit:MergePullRequestBy*",
        "Resource": "*",
    }
    at = f"/console/repositories/{repo}/pull-requests/{pr_id}"
    with _signed_in(server, _user(server, [ALL, deny])) as c:
        page = c.get(at).text
        merge = {
            "csrf": _csrf(page),
            "strategy": "FAST_FORWARD_MERGE",
            "source_commit": _hidden(page, "source_commit"),
        }
        r = c.post(at + "/merge", data=merge)
        assert r.status_code == 403
        assert '<code class="action">codecommit:MergePullRequestByFastForward</code>' in r.text
        assert f":{repo}</code>" in r.text and "NoMerging" in r.text
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert not pr["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]
        # The next request is served, and the same user may still close it.
        r = c.post(at + "/close", data={"csrf": merge["csrf"]})
        assert r.status_code == 303
        assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["pullRequestStatus"] == (
            "CLOSED"
        )


def test_cross_site_merge_is_refused(server: Server) -> None:
    repo = _repo_with_feature(server)
    pr_id = _open_pr(server, repo)
    cc = server.client("codecommit")
    at = f"/console/repositories/{repo}/pull-requests/{pr_id}"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(at).text
        merge = {
            "csrf": _csrf(page),
            "strategy": "FAST_FORWARD_MERGE",
            "source_commit": _hidden(page, "source_commit"),
        }
        r = c.post(at + "/merge", data=merge, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "Cross-site request refused." in r.text
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert not pr["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]
        assert c.post(at + "/merge", data=merge).status_code == 303
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert pr["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]


def test_approval_of_a_revision_no_longer_current_is_refused(server: Server) -> None:
    """The form names the revision shown; a push to the source since makes it stale, and the
    API's refusal is shown rather than an approval of code the reviewer did not see."""
    repo = _repo_with_feature(server)
    pr_id = _open_pr(server, repo)
    cc = server.client("codecommit")
    at = f"/console/repositories/{repo}/pull-requests/{pr_id}"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(at).text
        form = {"csrf": _csrf(page), "revision": _hidden(page, "revision"), "state": "APPROVE"}
        head = cc.get_branch(repositoryName=repo, branchName="feature")["branch"]["commitId"]
        cc.put_file(
            repositoryName=repo,
            branchName="feature",
            filePath="b.txt",
            fileContent=b"more",
            parentCommitId=head,
        )
        r = c.post(at + "/approval", data=form)
        assert r.status_code == 400 and 'role="alert"' in r.text
        revision = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["revisionId"]
        assert revision != form["revision"]
        states = cc.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)
        assert states["approvals"] == []
        # The page shown with the refusal names the current revision: approving it works.
        form["revision"] = _hidden(r.text, "revision")
        assert form["revision"] == revision
        assert c.post(at + "/approval", data=form).status_code == 303


def test_list_filters_by_status_and_pages(server: Server) -> None:
    repo = _repo_with_feature(server)
    ids = [_open_pr(server, repo) for _ in range(27)]
    cc = server.client("codecommit")
    cc.update_pull_request_status(pullRequestId=ids[0], pullRequestStatus="CLOSED")
    at = f"/console/repositories/{repo}/pull-requests"
    with _signed_in(server, _user(server, [ALL])) as c:
        first = c.get(at).text
        shown = re.findall(r'class="pr" href="[^"]+/(\d+)"', first)
        assert len(shown) == 25 and ids[0] not in shown
        m = re.search(r'rel="next" href="([^"]+)"', first)
        assert m
        second = c.get(m.group(1).replace("&amp;", "&")).text
        rest = re.findall(r'class="pr" href="[^"]+/(\d+)"', second)
        assert sorted(shown + rest, key=int) == sorted(ids[1:], key=int)
        assert 'rel="next"' not in second
        closed = re.findall(r'class="pr" href="[^"]+/(\d+)"', c.get(at + "?status=CLOSED").text)
        assert closed == [ids[0]]


def test_merge_of_a_source_pushed_since_the_page_was_shown_is_refused(server: Server) -> None:
    """The merge form names the source commit shown: a commit pushed since is not merged
    unseen; the API's refusal is shown and the destination is left as it was."""
    repo = _repo_with_feature(server)
    pr_id = _open_pr(server, repo)
    cc = server.client("codecommit")
    main = cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"]
    at = f"/console/repositories/{repo}/pull-requests/{pr_id}"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(at).text
        merge = {
            "csrf": _csrf(page),
            "strategy": "FAST_FORWARD_MERGE",
            "source_commit": _hidden(page, "source_commit"),
        }
        head = cc.get_branch(repositoryName=repo, branchName="feature")["branch"]["commitId"]
        assert merge["source_commit"] == head
        cc.put_file(
            repositoryName=repo,
            branchName="feature",
            filePath="unseen.txt",
            fileContent=b"unseen",
            parentCommitId=head,
        )
        r = c.post(at + "/merge", data=merge)
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"] == main
        pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
        assert not pr["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]


def test_comment_on_a_line_past_the_end_of_the_file_is_refused(server: Server) -> None:
    repo = _repo_with_feature(server)
    pr_id = _open_pr(server, repo)
    cc = server.client("codecommit")
    at = f"/console/repositories/{repo}/pull-requests/{pr_id}"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(at).text
        form = {
            "csrf": _csrf(page),
            "before": _hidden(page, "before"),
            "after": _hidden(page, "after"),
            "path": "a.txt",
            "side": "AFTER",
            "line": "999",
            "content": "nowhere",
        }
        r = c.post(at + "/comment", data=form)
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert (
            cc.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
            == []
        )
        assert c.get(at).status_code == 200
