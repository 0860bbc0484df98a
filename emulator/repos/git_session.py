"""A git request, whichever door it came through: who asks, for which service, on which repository.

Both git doors (smart HTTP and SSH) authenticate in their own way and then call `GitGate.open`,
which does the rest the same way for both:

- authorization through the one gate (`codecommit:GitPull` / `codecommit:GitPush`) against the
  repository's ARN in the region the caller addressed (a SigV4 password's signing region, else
  the endpoint's) *before* any repository is looked up, so a caller who may not use it gets the
  same answer whether or not it exists, in that region or any other (no existence leak, and a
  denial names only the ARN the caller addressed);
- the repository: in the addressed region; for credentials that are not region-bound
  (CodeCommit git credentials, SSH keys), else in another region where the caller's account
  has one of that name and the caller is allowed the same action there; otherwise
  `RepositoryDoesNotExistException`, the same answer as for a name that exists nowhere;
- a `GitSession` that builds the git services with the per-ref push check
  (`codecommit:References`) and the pack cache shared by every request of the emulator.

Errors are `AccessDenied` and `ClientError`s named after AWS error shapes; each door renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from emulator import access_log
from emulator.arns import partition_for
from emulator.config import Limits
from emulator.errors import ClientError, ServiceError, client_error
from emulator.iam.authorize import AccessDenied, Authorizer
from emulator.iam.principal import Principal
from emulator.repos.clone_urls import codecommit_regions
from emulator.repos.model import Repository
from emulator.repos.output_buffer import Write
from emulator.repos.pack_reader import PackCache
from emulator.repos.receive import ReceivePack
from emulator.repos.service import RepositoryService
from emulator.repos.upload_archive import serve_upload_archive
from emulator.repos.upload_pack import UploadPack

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
UPLOAD_ARCHIVE = "git-upload-archive"
ACTIONS: Mapping[str, str] = {
    UPLOAD_PACK: "codecommit:GitPull",
    UPLOAD_ARCHIVE: "codecommit:GitPull",
    RECEIVE_PACK: "codecommit:GitPush",
}

Read = Callable[[int], bytes]


@dataclass(frozen=True)
class GitSession:
    """One authorized git request on one repository."""

    gate: GitGate
    principal: Principal
    repo: Repository
    service: str
    source_ip: str | None
    secure: bool

    @property
    def head(self) -> bytes | None:
        # HEAD is a symref to the default branch; the engine leaves HEAD out if it is gone.
        return self.repo.default_branch.encode() if self.repo.default_branch else None

    def authorize_ref(self, ref: bytes) -> str | None:
        """None if the principal may push `ref`, else the reason git reports for it."""
        try:
            self.gate.authorizer.authorize(
                self.principal,
                "codecommit:GitPush",
                self.repo.arn,
                {"codecommit:References": [ref.decode("utf-8", "replace")]},
                source_ip=self.source_ip,
                secure_transport=self.secure,
            )
        except AccessDenied as exc:
            return f"permission denied: {exc.message}"
        return None

    def upload_pack(self, refs: Mapping[bytes, bytes] | None = None) -> UploadPack:
        """A fresh upload-pack engine (one per advertisement or request), over `refs` or a new
        snapshot of the repository's refs."""
        gate = self.gate
        return UploadPack(
            gate.repos.object_store(self.repo),
            gate.repos.refs(self.repo) if refs is None else refs,
            gate.limits,
            cache=gate.pack_cache,
            head=self.head,
        )

    def receive_pack(self) -> ReceivePack:
        gate = self.gate
        return ReceivePack(
            gate.repos,
            self.repo,
            gate.limits,
            self.authorize_ref,
            cache=gate.pack_cache,
            actor=self.principal.arn,
        )

    def serve_stateful(
        self, read: Read, write: Write, gone: Callable[[], bool] = lambda: False
    ) -> None:
        """The whole conversation of a bidirectional transport (SSH, like git's own
        `git-upload-pack <dir>`): advertisement, then the requests on the same stream.
        Blocking; the service reports protocol errors in-band."""
        if self.service == UPLOAD_PACK:
            # One snapshot for both halves: a want of a tip we advertised must stay "our ref"
            # even if a push moves the branch in between.
            refs = self.gate.repos.refs(self.repo)
            for frame in self.upload_pack(refs).advertisement(self.head):
                write(frame)
            self.upload_pack(refs).serve(read, write, stateless=False)
        elif self.service == RECEIVE_PACK:
            receive = self.receive_pack()
            for line in receive.advertise():
                write(line)
            receive.serve(read, write, gone)
        elif self.service == UPLOAD_ARCHIVE:
            serve_upload_archive(
                self.gate.repos.object_store(self.repo),
                self.gate.repos.refs(self.repo),
                self.head,
                read,
                write,
            )
        else:
            raise client_error(
                "InvalidParameterException", f"{self.service} is not supported by ccemu"
            )


class GitGate:
    """Opens `GitSession`s: region, authorization, repository (see the module docstring)."""

    def __init__(
        self,
        authorizer: Authorizer,
        repos: RepositoryService,
        limits: Limits,
        region: str,
        pack_cache: PackCache,
    ) -> None:
        self.authorizer = authorizer
        self.repos = repos
        self.limits = limits
        self.region = region
        # Parsed pack indexes and commit graphs, shared by every request of this emulator
        # (fetches read packs through it; pushes look up thin-pack bases and check connectivity).
        self.pack_cache = pack_cache

    def signing_regions(self) -> Iterator[str]:
        """The regions a SigV4 git password may be signed for, the endpoint's first: then every
        region of every partition where CodeCommit exists, whatever repositories there are, so
        whether a signature verifies never depends on where a repository exists."""
        yield self.region
        yield from (r for r in codecommit_regions() if r != self.region)

    def _arn(self, principal: Principal, region: str, name: str) -> str:
        return f"arn:{partition_for(region)}:codecommit:{region}:{principal.account}:{name}"

    def open(
        self,
        principal: Principal,
        region: str | None,
        name: str,
        service: str,
        *,
        source_ip: str | None,
        secure: bool,
    ) -> GitSession:
        """Authorize `service` on repository `name` and find it. Blocking (SQLite).

        `region` is the region the caller addressed (a SigV4 password is signed for one), or
        None for credentials that are not region-bound: then the endpoint's region is the one
        authorized first, and another region where the account has the repository is used
        only if the caller may use it there.

        Raises `AccessDenied` or `RepositoryDoesNotExistException`."""
        action = ACTIONS.get(service)
        if action is None:
            raise client_error("InvalidParameterException", f"unknown git service {service}")
        access_log.note_action(action, repository=name)
        access_log.note_principal(principal.arn)
        try:
            return self._open(principal, region, name, service, action, source_ip, secure)
        except ServiceError as exc:
            access_log.note_error(exc.code)
            raise

    def _open(
        self,
        principal: Principal,
        region: str | None,
        name: str,
        service: str,
        action: str,
        source_ip: str | None,
        secure: bool,
    ) -> GitSession:
        addressed = region or self.region
        # First the gate, for the region addressed: a caller refused there learns nothing of
        # where (or whether) the repository exists.
        denied: AccessDenied | None = None
        try:
            self.authorizer.authorize(
                principal,
                action,
                self._arn(principal, addressed, name),
                source_ip=source_ip,
                secure_transport=secure,
            )
        except AccessDenied as exc:
            if region is not None:
                raise
            denied = exc
        repo = None if denied is not None else self._find(principal.account, addressed, name)
        if repo is None and region is None:
            # CodeCommit git credentials and SSH keys are not bound to a region: another region
            # where the account has the repository, if the caller may use it there; if not, the
            # answer for the addressed region (its denial, or "not found"), whether or not the
            # repository exists elsewhere.
            for other in self.repos.regions_of(principal.account, name):
                if other != addressed and self.authorizer.is_allowed(
                    principal,
                    action,
                    self._arn(principal, other, name),
                    source_ip=source_ip,
                    secure_transport=secure,
                ):
                    repo = self._find(principal.account, other, name)
                    break
        if repo is None and denied is not None:
            raise denied
        if repo is None:
            raise client_error("RepositoryDoesNotExistException", f"repository '{name}' not found")
        if self.repos.data_keys is not None:
            # A repository whose KMS key is disabled, pending deletion or gone is refused here
            # with CodeCommit's encryption error, before any pack is opened.
            self.repos.data_keys.data_key(repo)
        return GitSession(self, principal, repo, service, source_ip, secure)

    def _find(self, account: str, region: str, name: str) -> Repository | None:
        try:
            return self.repos.find(account, region, name)
        except ClientError:  # a name CodeCommit would refuse names no repository
            return None
