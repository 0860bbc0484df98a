"""A repository's Settings: triggers, notification rules, tags and the encryption key.

Every read and change is an AWS operation run as the signed-in principal through
`emulator.api.invoke`: CodeCommit's GetRepositoryTriggers, PutRepositoryTriggers,
TestRepositoryTriggers, ListTagsForResource, TagResource, UntagResource,
UpdateRepositoryEncryptionKey; CodeStar Notifications' ListEventTypes, ListNotificationRules,
DescribeNotificationRule, CreateNotificationRule, DeleteNotificationRule; SNS's ListTopics and
CreateTopic (a topic made inline with a rule, as AWS's console offers). The page shows each
section on its own: a principal refused the read of one section sees that refusal, with the
statement that decided it, in that section and the others as usual. A refused change is the
denial page; nothing was changed.
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
    from console.code import CodePages

TRIGGER_EVENTS = ("all", "updateReference", "createReference", "deleteReference")
NOTIFICATIONS = "codestar-notifications"
MAX_RULES = 50  # rules described on one page


class SettingsPages:
    def __init__(self, console: Console, code: CodePages) -> None:
        self.console = console
        self.code = code

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/repositories/{name}/settings"
        return [
            Route(at, page(self.settings), methods=["GET"]),
            Route(at + "/triggers", page(self.put_trigger), methods=["POST"]),
            Route(at + "/triggers/delete", page(self.delete_trigger), methods=["POST"]),
            Route(at + "/triggers/test", page(self.test_trigger), methods=["POST"]),
            Route(at + "/notifications", page(self.create_rule), methods=["POST"]),
            Route(at + "/notifications/delete", page(self.delete_rule), methods=["POST"]),
            Route(at + "/tags", page(self.tag), methods=["POST"]),
            Route(at + "/tags/delete", page(self.untag), methods=["POST"]),
            Route(at + "/encryption", page(self.encryption), methods=["POST"]),
        ]

    # -- reading ------------------------------------------------------------------------------

    async def _section(
        self,
        request: Request,
        session: Session,
        operation: str,
        params: dict[str, Any],
        service: str = "codecommit",
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """One section's read: its output, or the refusal to show in its place."""
        from console.app import Denied

        try:
            return await self.console.call(request, session, operation, params, service), None
        except Denied as exc:
            refusal = {"action": exc.action, "resource": exc.resource, "reason": exc.reason}
            return {}, {**refusal, "statements": exc.statements}
        except ClientError as exc:
            return {}, {"code": exc.code, "message": exc.message}

    async def settings(
        self, request: Request, session: Session, status: int = 200, **values: Any
    ) -> Response:
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        arn = repo["Arn"]
        triggers, triggers_refused = await self._section(
            request, session, "GetRepositoryTriggers", {"repositoryName": name}
        )
        tags, tags_refused = await self._section(
            request, session, "ListTagsForResource", {"resourceArn": arn}
        )
        rules, rules_refused = await self._rules(request, session, arn)
        event_types, _ = await self._section(
            request,
            session,
            "ListEventTypes",
            {"Filters": [{"Name": "SERVICE_NAME", "Value": "CodeCommit"}]},
            NOTIFICATIONS,
        )
        topics, _ = await self._section(request, session, "ListTopics", {}, "sns")
        return self.code.render(
            request,
            session,
            "settings.html",
            repo,
            "settings",
            status,
            triggers=triggers.get("triggers", []),
            triggers_refused=triggers_refused,
            trigger_events=TRIGGER_EVENTS,
            tags=sorted((tags.get("tags") or {}).items()),
            tags_refused=tags_refused,
            rules=rules,
            rules_refused=rules_refused,
            event_types=event_types.get("EventTypes", []),
            topics=[t["TopicArn"] for t in topics.get("Topics", [])],
            **values,
        )

    async def _rules(
        self, request: Request, session: Session, arn: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        listed, refused = await self._section(
            request,
            session,
            "ListNotificationRules",
            {"Filters": [{"Name": "RESOURCE", "Value": arn}], "MaxResults": MAX_RULES},
            NOTIFICATIONS,
        )
        rules = []
        for summary in listed.get("NotificationRules", []):
            rule, _ = await self._section(
                request,
                session,
                "DescribeNotificationRule",
                {"Arn": summary["Arn"]},
                NOTIFICATIONS,
            )
            rules.append(rule or {"Arn": summary["Arn"], "Name": summary["Id"]})
        return rules, refused

    def _back(self, request: Request, session: Session, note: str, anchor: str) -> Response:
        from console.app import _redirect

        session.notes.append(note)
        del session.notes[:-5]
        name = quote(request.path_params["name"], safe="")
        return _redirect(request, f"/repositories/{name}/settings#{anchor}")

    # -- triggers -------------------------------------------------------------------------------

    async def _triggers(self, request: Request, session: Session) -> list[dict[str, Any]]:
        out = await self.console.call(
            request,
            session,
            "GetRepositoryTriggers",
            {"repositoryName": request.path_params["name"]},
        )
        return [dict(t) for t in out.get("triggers", [])]

    async def _put(
        self, request: Request, session: Session, triggers: list[dict[str, Any]]
    ) -> None:
        await self.console.call(
            request,
            session,
            "PutRepositoryTriggers",
            {"repositoryName": request.path_params["name"], "triggers": triggers},
        )

    async def put_trigger(self, request: Request, session: Session) -> Response:
        """Create a trigger, or (with `was`, the name it had) replace one."""
        form = request.state.form
        trigger: dict[str, Any] = {
            "name": form.get("trigger_name", "").strip(),
            "destinationArn": form.get("destination", "").strip(),
            "events": [e for e in TRIGGER_EVENTS if form.get(f"event_{e}")],
            "branches": [b.strip() for b in form.get("branches", "").split(",") if b.strip()],
        }
        if form.get("custom_data", ""):
            trigger["customData"] = form["custom_data"]
        was = form.get("was", "")
        current = await self._triggers(request, session)
        kept = [t for t in current if t["name"] != (was or trigger["name"])]
        if not was and len(kept) != len(current):
            error = f"A trigger named {trigger['name']} exists: edit it instead."
            return await self.settings(request, session, 400, trigger_error=error)
        if was and len(kept) == len(current):
            error = f"No trigger named {was}."
            return await self.settings(request, session, 404, trigger_error=error)
        try:
            await self._put(request, session, [*kept, trigger])
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return await self.settings(request, session, 400, trigger_error=error, draft=trigger)
        verb = "Updated" if was else "Created"
        return self._back(request, session, f"{verb} trigger {trigger['name']}.", "triggers")

    async def delete_trigger(self, request: Request, session: Session) -> Response:
        name = request.state.form.get("trigger_name", "")
        current = await self._triggers(request, session)
        kept = [t for t in current if t["name"] != name]
        if len(kept) == len(current):
            return await self.settings(
                request, session, 404, trigger_error=f"No trigger named {name}."
            )
        await self._put(request, session, kept)
        return self._back(request, session, f"Deleted trigger {name}.", "triggers")

    async def test_trigger(self, request: Request, session: Session) -> Response:
        name = request.state.form.get("trigger_name", "")
        chosen = [t for t in await self._triggers(request, session) if t["name"] == name]
        if not chosen:
            return await self.settings(
                request, session, 404, trigger_error=f"No trigger named {name}."
            )
        out = await self.console.call(
            request,
            session,
            "TestRepositoryTriggers",
            {"repositoryName": request.path_params["name"], "triggers": chosen},
        )
        failed = out.get("failedExecutions") or []
        if failed:
            why = "; ".join(f"{f['trigger']}: {f['failureMessage']}" for f in failed)
            note = f"Test of trigger {name} failed: {why}"
        else:
            note = f"Test of trigger {name} sent."
        return self._back(request, session, note, "triggers")

    # -- notification rules ---------------------------------------------------------------------

    async def create_rule(self, request: Request, session: Session) -> Response:
        form = request.state.form
        repo = await self.code.repository(request, session)
        types = await self.console.call(
            request,
            session,
            "ListEventTypes",
            {"Filters": [{"Name": "SERVICE_NAME", "Value": "CodeCommit"}]},
            NOTIFICATIONS,
        )
        chosen = [
            e["EventTypeId"]
            for e in types.get("EventTypes", [])
            if form.get(f"type_{e['EventTypeId']}")
        ]
        target = form.get("topic", "").strip()
        new_topic = form.get("new_topic", "").strip()
        if new_topic:
            made = await self.console.call(
                request, session, "CreateTopic", {"Name": new_topic}, "sns"
            )
            target = made["TopicArn"]
        params: dict[str, Any] = {
            "Name": form.get("rule_name", "").strip(),
            "EventTypeIds": chosen,
            "Resource": repo["Arn"],
            "Targets": [{"TargetType": "SNS", "TargetAddress": target}] if target else [],
            "DetailType": "BASIC" if form.get("detail") == "BASIC" else "FULL",
        }
        try:
            await self.console.call(
                request, session, "CreateNotificationRule", params, NOTIFICATIONS
            )
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return await self.settings(request, session, 400, rule_error=error)
        note = f"Created notification rule {params['Name']}"
        note += f" (and topic {target})." if new_topic else "."
        return self._back(request, session, note, "notifications")

    async def delete_rule(self, request: Request, session: Session) -> Response:
        arn = request.state.form.get("rule_arn", "")
        await self.console.call(
            request, session, "DeleteNotificationRule", {"Arn": arn}, NOTIFICATIONS
        )
        return self._back(request, session, "Deleted the notification rule.", "notifications")

    # -- tags and encryption --------------------------------------------------------------------

    async def tag(self, request: Request, session: Session) -> Response:
        form = request.state.form
        repo = await self.code.repository(request, session)
        key = form.get("key", "")
        params = {"resourceArn": repo["Arn"], "tags": {key: form.get("value", "")}}
        try:
            await self.console.call(request, session, "TagResource", params)
        except ClientError as exc:
            return await self.settings(
                request, session, 400, tag_error=f"{exc.code}: {exc.message}"
            )
        return self._back(request, session, f"Tagged with {key}.", "tags")

    async def untag(self, request: Request, session: Session) -> Response:
        repo = await self.code.repository(request, session)
        key = request.state.form.get("key", "")
        params = {"resourceArn": repo["Arn"], "tagKeys": [key]}
        await self.console.call(request, session, "UntagResource", params)
        return self._back(request, session, f"Removed tag {key}.", "tags")

    async def encryption(self, request: Request, session: Session) -> Response:
        key = request.state.form.get("kms_key_id", "").strip()
        params = {"repositoryName": request.path_params["name"], "kmsKeyId": key}
        try:
            out = await self.console.call(request, session, "UpdateRepositoryEncryptionKey", params)
        except ClientError as exc:
            error = f"{exc.code}: {exc.message}"
            return await self.settings(request, session, 400, key_error=error)
        return self._back(
            request, session, f"Encryption key is now {out['kmsKeyId']}.", "encryption"
        )
