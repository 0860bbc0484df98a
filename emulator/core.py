"""The `Emulator`: one instance holds config, state and services, and is passed to every door."""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass

from emulator.access_log import AccessLog
from emulator.config import Config
from emulator.datadir import DataDirLock, make_private
from emulator.events.service import EventService, EventSettings
from emulator.iam.authorize import Authorizer
from emulator.iam.credentials import CredentialStore
from emulator.iam.entities import IamService
from emulator.iam.keys import Keys
from emulator.iam.keys.sessions import Sessions
from emulator.iam.sts import STS
from emulator.kms.master import open_master_key
from emulator.kms.secrets import SecretBox
from emulator.kms.service import KmsService
from emulator.memory import MemoryReturn, fix_mmap_threshold, limit_arenas
from emulator.repos.approval_rules import ApprovalRuleService
from emulator.repos.approval_templates import ApprovalTemplateService
from emulator.repos.clone_urls import aws_clone_url_http, aws_clone_url_ssh
from emulator.repos.comment_model import Comment
from emulator.repos.comments import CommentService
from emulator.repos.data_keys import RepositoryDataKeys
from emulator.repos.git_session import GitGate
from emulator.repos.maintenance import Maintenance
from emulator.repos.model import Repository
from emulator.repos.pull_request_model import PullRequest, Record, add_event
from emulator.repos.pull_requests import PullRequestService
from emulator.repos.service import RepositoryService
from emulator.state.db import Database
from emulator.trust import HostKey

log = logging.getLogger(__name__)


@dataclass
class Endpoints:
    """Where the listeners actually are, known once they are bound."""

    http: str | None = None
    ssh: str | None = None
    https: str | None = None  # the TLS listener, when there is one
    ca: str | None = None  # the CA certificate clients trust for it
    # The SSH host public keys the SSH listener serves with (`GET /_ccemu/ssh-host-keys`).
    ssh_host_keys: tuple[HostKey, ...] = ()


class Emulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        # First, before anything in the data dir is read or written: one process per data dir.
        self._lock = DataDirLock(config.data_dir)
        try:
            # Opened before the data dir is touched: a bad path is refused with nothing changed.
            self.access_log = AccessLog(config.access_log) if config.access_log else None
            make_private(config.data_dir)
            self.db = Database(config.data_dir / "state.db")
        except BaseException:
            self._lock.release()
            raise
        try:
            master = open_master_key(
                self.db.connection(),
                config.data_dir,
                config.master_key_file,
                os.environ.get("CCEMU_MASTER_KEY"),
            )
        except BaseException:
            self.db.close()
            self._lock.release()
            raise
        if master.warning:
            log.warning("ccemu: warning: %s", master.warning)
        master_key = master.key
        self.secrets = SecretBox(master_key)
        self.kms = KmsService(self.db, master_key)
        self.data_keys = RepositoryDataKeys(self.db, self.kms)
        self.iam = IamService(self.db)
        self.keys = Keys(self.db, self.secrets, self.iam)
        self.sessions = Sessions(self.db, self.secrets)
        self.authorizer = Authorizer(self.iam)
        self.sts = STS(
            self.sessions,
            self.iam.entities,
            is_allowed=self.authorizer.identity_allows,
            policies=self.iam.policies,
        )
        self.credentials = CredentialStore(config, self.keys, self.sessions)
        self.repos = RepositoryService(
            self.db,
            config.data_dir / "repos",
            config.limits.max_repositories,
            data_keys=self.data_keys,
            cache_bytes=config.cache_bytes,
            cache_idle_bytes=config.cache_idle_bytes,
            resolved_cache_bytes=config.resolved_cache_bytes,
        )
        self.repos.delete_listeners.append(self.data_keys.forget)
        self.repos.discard_quarantine()
        self.pack_cache = self.repos.pack_cache
        # Pack merging and the collector of unreachable objects run off the request path.
        self.memory = MemoryReturn(
            config.memory_trim_idle,
            lambda: self.pack_cache.last_used,
            shrink=self.pack_cache.shrink_idle,
        )
        if config.memory_trim_idle > 0:  # the same switch: leave malloc alone when told to
            limit_arenas(os.environ)
            fix_mmap_threshold(os.environ)
        self.maintenance = Maintenance(
            self.repos, self.pack_cache, config.maintenance_delay, self.memory
        )
        self.repos.maintenance_listeners.append(lambda repo: self.maintenance.schedule(repo.id))
        for repo_id in self.repos.ids():  # what a crash left unreachable goes now
            self.maintenance.schedule(repo_id, after=0.0)
        self.git = GitGate(
            self.authorizer, self.repos, config.limits, config.region, self.pack_cache
        )
        self.endpoints = Endpoints()
        self.events = EventService(
            self.db,
            EventSettings(
                data_dir=config.data_dir,
                lambda_endpoints=config.lambda_endpoints,
                webhooks=config.event_webhooks,
                retry_scale=config.delivery_retry_scale,
                timeout=config.delivery_timeout,
            ),
            base_url=self.base_url_http,
        )
        # Events are written in the transaction of the ref update that causes them.
        self.repos.ref_listeners.append(self.events.on_ref_change)
        # Pull requests follow their branches in the same transaction (new revisions, merges).
        self.pull_requests = PullRequestService(self.db, self.repos, self.pack_cache)
        self.repos.ref_listeners.append(self.pull_requests.on_ref_change)
        # Their events reach notification rules and webhooks in the transaction of the change.
        self.pull_requests.listeners.append(self.events.on_pull_request_change)
        self.approval_rules = ApprovalRuleService(self.db)
        self.pull_requests.merge_checks.append(self.approval_rules.require_mergeable)
        self.approval_rules.events_for = self._pull_request_recorder
        self.approval_templates = ApprovalTemplateService(self.db, self.approval_rules)
        self.pull_requests.create_hooks.append(self.approval_templates.on_pull_request_created)
        self.comments = CommentService(self.db, self.repos, self.pack_cache)
        # Comment events reach notification rules and webhooks in the comment's transaction.
        self.comments.listeners.append(self._comment_event)
        # Any ref change (git or API) may leave objects unreachable.
        self.repos.ref_listeners.append(
            lambda _conn, repo, _applied, _actor: self.maintenance.schedule(repo.id)
        )

    def base_url_http(self) -> str:
        return self.endpoints.http or f"http://{self.config.host}:{self.config.port}"

    def clone_url_http(self, repo: Repository) -> str:
        if self.config.aws_clone_urls:
            return aws_clone_url_http(repo.region, repo.name)
        base = self.endpoints.http or f"http://{self.config.host}:{self.config.port}"
        return f"{base}/v1/repos/{repo.name}"

    def clone_url_ssh(self, repo: Repository) -> str:
        if self.config.aws_clone_urls:
            return aws_clone_url_ssh(repo.region, repo.name)
        base = self.endpoints.ssh or f"ssh://{self.config.host}:{self.config.ssh_port}"
        return f"{base}/v1/repos/{repo.name}"

    def banner_notes(self) -> list[str]:
        """Lines the start-up banner adds for options that change what clients see."""
        notes = []
        if self.config.aws_clone_urls:
            notes.append(
                "  clone URLs in AWS's form (https://git-codecommit.{region}.amazonaws.com/...):"
                " 'ccemu configure --aws-clone-urls' sends them here"
            )
        if self.config.accept_any_credentials:
            notes.append(
                "  WARNING: --accept-any-credentials: any access key id that IAM or STS did not"
                " issue is a root user, and its signature is not checked (API and git)"
            )
        return notes

    def _pull_request_recorder(self, pr: PullRequest) -> Record:
        """How an approval event of `pr` is written: through the pull request service, so it
        reaches notification rules and webhooks like the pull request's own events."""
        repo = self.repos.get_by_id(pr.repo_id)
        return add_event if repo is None else self.pull_requests.recorder(repo)

    def _comment_event(self, conn: sqlite3.Connection, comment: Comment, what: str) -> None:
        repo = self.repos.get_by_id(comment.repo_id, conn)
        if repo is not None:
            self.events.on_comment(conn, repo, comment, what)

    def close(self) -> None:
        self.maintenance.close()
        self.events.close()
        if self.access_log is not None:
            self.access_log.close()
        self.db.close()
        self._lock.release()
