"""Approval rule templates: approval rules an account keeps per region and associates with
repositories, so that every new pull request of an associated repository gets the rule.

CodeCommit's rules, as its API reference and quotas state them:

- A template has a name unique in its account and region (names follow approval rule names),
  an optional description (at most 1,000 characters) and approval rule content; at most 1,000
  templates in a region, 25 associated with one repository.
- When a pull request is created in an associated repository, each template whose content has
  no `DestinationReferences`, or names the pull request's destination branch, becomes an
  approval rule of it (`originApprovalRuleTemplate`), which cannot be edited or deleted on the
  pull request. Changing or dissociating a template leaves existing pull requests as they are.
- A template associated with a repository cannot be deleted
  (`ApprovalRuleTemplateInUseException`); deleting one that does not exist answers 200.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.codecommit_errors import error
from emulator.repos.approval_rules import (
    ApprovalRuleService,
    content_sha256,
    parse_content,
    validate_rule_name,
)
from emulator.repos.model import Repository
from emulator.repos.pull_request_model import now
from emulator.state.db import Database

MAX_TEMPLATES = 1000
MAX_PER_REPOSITORY = 25
MAX_DESCRIPTION = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_rule_templates (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    content TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    modified_by TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS approval_rule_template_repositories (
    template TEXT NOT NULL REFERENCES approval_rule_templates(id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    PRIMARY KEY (template, repo_id)
);
CREATE INDEX IF NOT EXISTS approval_rule_template_repositories_repo
    ON approval_rule_template_repositories (repo_id);
"""

_COLUMNS = "id, name, description, content, sha256, created, modified, modified_by"
_NAME_ERRORS = (
    "ApprovalRuleTemplateNameRequiredException",
    "InvalidApprovalRuleTemplateNameException",
)
_CONTENT_ERRORS = (
    "ApprovalRuleTemplateContentRequiredException",
    "InvalidApprovalRuleTemplateContentException",
)


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    content: str
    sha256: str
    created: datetime
    modified: datetime
    modified_by: str


def _template(row: tuple[object, ...]) -> Template:
    key, name, description, content, sha, created, modified, by = row
    return Template(
        str(key),
        str(name),
        str(description),
        str(content),
        str(sha),
        datetime.fromtimestamp(float(created), UTC),  # type: ignore[arg-type]
        datetime.fromtimestamp(float(modified), UTC),  # type: ignore[arg-type]
        str(by),
    )


def _name(name: str | None) -> str:
    return validate_rule_name(name, *_NAME_ERRORS)


def _description(description: str | None) -> str:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise error("InvalidApprovalRuleTemplateDescriptionException")
    return description or ""


class ApprovalTemplateService:
    def __init__(self, db: Database, rules: ApprovalRuleService) -> None:
        self.db = db
        self.rules = rules
        db.ensure_schema(SCHEMA)

    # -- templates ------------------------------------------------------------------------

    def get(self, account: str, region: str, name: str | None) -> Template:
        name = _name(name)
        row = (
            self.db.read()
            .execute(
                f"SELECT {_COLUMNS} FROM approval_rule_templates"
                " WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
            .fetchone()
        )
        if row is None:
            raise error("ApprovalRuleTemplateDoesNotExistException")
        return _template(row)

    def names(self, account: str, region: str) -> list[str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT name FROM approval_rule_templates WHERE account = ? AND region = ?"
                " ORDER BY name",
                (account, region),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def create(
        self,
        account: str,
        region: str,
        name: str | None,
        content: str | None,
        description: str | None,
        actor: str,
    ) -> Template:
        name = _name(name)
        parse_content(content, *_CONTENT_ERRORS)
        assert content is not None
        text = _description(description)
        when = now()
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM approval_rule_templates WHERE account = ? AND region = ?",
                (account, region),
            ).fetchone()
            if count >= MAX_TEMPLATES:
                raise error("NumberOfRuleTemplatesExceededException")
            try:
                conn.execute(
                    f"INSERT INTO approval_rule_templates (account, region, {_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        account,
                        region,
                        str(uuid.uuid4()),
                        name,
                        text,
                        content,
                        content_sha256(content),
                        when,
                        when,
                        actor,
                    ),
                )
            except sqlite3.IntegrityError:
                raise error("ApprovalRuleTemplateNameAlreadyExistsException") from None
        return self.get(account, region, name)

    def _update(self, template: Template, sets: str, args: tuple[object, ...], actor: str) -> None:
        with self.db.transaction() as conn:
            try:
                cur = conn.execute(
                    f"UPDATE approval_rule_templates SET {sets}, modified = ?, modified_by = ?"
                    " WHERE id = ?",
                    (*args, now(), actor, template.id),
                )
            except sqlite3.IntegrityError:
                raise error("ApprovalRuleTemplateNameAlreadyExistsException") from None
            if cur.rowcount != 1:
                raise error("ApprovalRuleTemplateDoesNotExistException")

    def rename(
        self, account: str, region: str, old: str | None, new: str | None, actor: str
    ) -> Template:
        template = self.get(account, region, old)
        new = _name(new)
        self._update(template, "name = ?", (new,), actor)
        return self.get(account, region, new)

    def describe(
        self, account: str, region: str, name: str | None, description: str | None, actor: str
    ) -> Template:
        template = self.get(account, region, name)
        self._update(template, "description = ?", (_description(description),), actor)
        return self.get(account, region, template.name)

    def update_content(
        self,
        account: str,
        region: str,
        name: str | None,
        content: str | None,
        expected_sha256: str | None,
        actor: str,
    ) -> Template:
        template = self.get(account, region, name)
        parse_content(content, *_CONTENT_ERRORS)
        assert content is not None
        if expected_sha256 is not None and expected_sha256 != template.sha256:
            raise error("InvalidRuleContentSha256Exception")
        self._update(template, "content = ?, sha256 = ?", (content, content_sha256(content)), actor)
        return self.get(account, region, template.name)

    def delete(self, account: str, region: str, name: str | None) -> str:
        """The deleted template's id; "" when there was none."""
        name = _name(name)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM approval_rule_templates WHERE account = ? AND region = ?"
                " AND name = ?",
                (account, region, name),
            ).fetchone()
            if row is None:
                return ""
            used = conn.execute(
                "SELECT 1 FROM approval_rule_template_repositories WHERE template = ? LIMIT 1",
                (row[0],),
            ).fetchone()
            if used is not None:
                raise error("ApprovalRuleTemplateInUseException")
            conn.execute("DELETE FROM approval_rule_templates WHERE id = ?", (row[0],))
        return str(row[0])

    # -- associations ---------------------------------------------------------------------

    def associate(self, template: Template, repo: Repository) -> None:
        with self.db.transaction() as conn:
            done = conn.execute(
                "SELECT 1 FROM approval_rule_template_repositories"
                " WHERE template = ? AND repo_id = ?",
                (template.id, repo.id),
            ).fetchone()
            if done is not None:
                return  # associating again changes nothing
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM approval_rule_template_repositories WHERE repo_id = ?",
                (repo.id,),
            ).fetchone()
            if count >= MAX_PER_REPOSITORY:
                raise error("MaximumRuleTemplatesAssociatedWithRepositoryException")
            conn.execute(
                "INSERT INTO approval_rule_template_repositories (template, repo_id) VALUES (?, ?)",
                (template.id, repo.id),
            )

    def disassociate(self, template: Template, repo: Repository) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM approval_rule_template_repositories"
                " WHERE template = ? AND repo_id = ?",
                (template.id, repo.id),
            )

    def for_repository(self, repo: Repository) -> list[str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT t.name FROM approval_rule_templates t"
                " JOIN approval_rule_template_repositories a ON a.template = t.id"
                " WHERE a.repo_id = ? ORDER BY t.name",
                (repo.id,),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def repositories(self, template: Template) -> list[str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT r.name FROM repositories r"
                " JOIN approval_rule_template_repositories a ON a.repo_id = r.id"
                " WHERE a.template = ? ORDER BY r.name",
                (template.id,),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    # -- new pull requests ----------------------------------------------------------------

    def on_pull_request_created(
        self, conn: sqlite3.Connection, key: str, repo: Repository, destination: str, author: str
    ) -> None:
        """Inside the transaction creating the pull request: the rules of the repository's
        templates whose destination references match."""
        rows = conn.execute(
            "SELECT t.id, t.name, t.content FROM approval_rule_templates t"
            " JOIN approval_rule_template_repositories a ON a.template = t.id"
            " WHERE a.repo_id = ? ORDER BY t.name",
            (repo.id,),
        ).fetchall()
        for template_id, name, content in rows:
            rule = parse_content(str(content), *_CONTENT_ERRORS)
            if rule.destinations is not None and destination not in rule.destinations:
                continue
            self.rules.insert_rule(
                conn, key, str(name), str(content), author, (str(template_id), str(name))
            )
