"""A repository's connection steps, in CodeCommit's three tabs: HTTPS, SSH, HTTPS (GRC).

The commands are the ones `ccemu configure` prints (`emulator.repos.client_setup`), for this
server's listeners as bound, this repository and the signed-in user: their own SSH key ids
(ListSSHPublicKeys, as themselves) in the ssh config block. The tabs are sections reached by
anchors, so they work without JavaScript.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.errors import ClientError
from emulator.repos.client_setup import Setup, git_settings, ssh_config_block

if TYPE_CHECKING:
    from console.app import Console
    from console.code import CodePages

_NO_KEY = "APKA...your-ssh-key-id"


class ConnectPage:
    def __init__(self, console: Console, code: CodePages) -> None:
        self.console = console
        self.code = code
        self.emu = console.emu

    def routes(self) -> list[Route]:
        return [
            Route("/repositories/{name}/connect", self.console.page(self.connect), methods=["GET"])
        ]

    async def _ssh_key_ids(self, request: Request, session: Session) -> list[str]:
        p = session.principal
        if p.kind != "IAMUser" or not p.name:
            return []
        from console.app import Denied

        try:
            out = await self.console.call(
                request, session, "ListSSHPublicKeys", {"UserName": p.name}, service="iam"
            )
        except (Denied, ClientError):
            return []  # may not list its own keys: the block shows where the id goes
        keys = out.get("SSHPublicKeys") or []
        return [k["SSHPublicKeyId"] for k in keys if k.get("Status") == "Active"]

    async def connect(self, request: Request, session: Session) -> Response:
        repo = await self.code.repository(request, session)
        name = repo["repositoryName"]
        ends = self.emu.endpoints
        cfg = self.emu.config
        http = self.emu.base_url_http()
        key_ids = await self._ssh_key_ids(request, session)
        setup = Setup(
            http=http,
            https=ends.https,
            ssh=ends.ssh or f"ssh://{cfg.host}:{cfg.ssh_port}",
            region=cfg.region,
            access_key="",
            secret_key="",
            data_dir=cfg.data_dir,
            ssh_key_id=key_ids[0] if key_ids else _NO_KEY,
            identity_file="~/.ssh/ccemu",
        )
        q = shlex.quote
        settings = git_settings(setup)
        https_helper = [f"git config --global {q(k)} {q(v)}" for k, v in settings[:2]]
        user = session.principal
        user_name = user.name if user.kind == "IAMUser" and user.name else "USER"
        grc: dict[str, Any] | None = None
        if ends.https is not None:
            grc = {
                "endpoint": f"export CODE_COMMIT_ENDPOINT={q(urlsplit(ends.https).netloc)}",
                "settings": [f"git config --global {q(k)} {q(v)}" for k, v in settings[2:]],
                "clone": f"git clone {q(f'codecommit::{cfg.region}://{name}')}",
                "ca": ends.ca or str(Path(cfg.data_dir) / "tls" / "ca.pem"),
            }
        return self.code.render(
            request,
            session,
            "connect.html",
            repo,
            "connect",
            https={
                "clone": f"git clone {q(repo['cloneUrlHttp'])}",
                "helper": https_helper,
                "credential": "aws iam create-service-specific-credential"
                f" --user-name {q(user_name)} --service-name codecommit.amazonaws.com",
                "git_user": f"{user_name}-at-{user.account}",
            },
            ssh={
                "keygen": "ssh-keygen -t ed25519 -f ~/.ssh/ccemu -N ''",
                "upload": f"aws iam upload-ssh-public-key --user-name {q(user_name)}"
                " --ssh-public-key-body file://$HOME/.ssh/ccemu.pub",
                "known_hosts": f"ccemu ssh-host-key --endpoint {q(http)} >> ~/.ssh/known_hosts",
                "config": ssh_config_block(setup) or "",
                "key_ids": key_ids,
                "clone": f"git clone {q(repo['cloneUrlSsh'])}",
            },
            endpoint=http,
            grc=grc,
        )
