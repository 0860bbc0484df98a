"""Security credentials of the signed-in IAM user: SSH public keys, HTTPS Git credentials
for CodeCommit, access keys.

Each action is an IAM operation run as that user through `emulator.api.invoke`, naming the
user as AWS's console does (UploadSSHPublicKey, ListSSHPublicKeys, UpdateSSHPublicKey,
DeleteSSHPublicKey; CreateServiceSpecificCredential, ListServiceSpecificCredentials,
ResetServiceSpecificCredential, UpdateServiceSpecificCredential,
DeleteServiceSpecificCredential for `codecommit.amazonaws.com`; CreateAccessKey,
ListAccessKeys, UpdateAccessKey, DeleteAccessKey), so what the user may do to their own
credentials is what their policies allow. A secret (a Git password, a secret access key) is
in the one answer to the POST that made it, with a .csv of it as a `data:` link, and is
kept nowhere else: the console never shows it again. The root user and role sessions have no
IAM user: the page says so.
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

CODECOMMIT = "codecommit.amazonaws.com"
_STATUSES = ("Active", "Inactive")


def csv_link(header: tuple[str, str], row: tuple[str, str]) -> str:
    """A `data:` URL of a two-column .csv, as AWS's console offers a credential for download."""
    text = f"{header[0]},{header[1]}\r\n{row[0]},{row[1]}\r\n"
    return "data:text/csv;charset=utf-8," + quote(text, safe="")


class CredentialPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        page = self.console.page
        at = "/credentials"
        return [
            Route(at, page(self.credentials), methods=["GET"]),
            Route(at + "/ssh", page(self.upload_ssh), methods=["POST"]),
            Route(at + "/ssh/status", page(self.ssh_status), methods=["POST"]),
            Route(at + "/ssh/delete", page(self.delete_ssh), methods=["POST"]),
            Route(at + "/https", page(self.create_https), methods=["POST"]),
            Route(at + "/https/reset", page(self.reset_https), methods=["POST"]),
            Route(at + "/https/status", page(self.https_status), methods=["POST"]),
            Route(at + "/https/delete", page(self.delete_https), methods=["POST"]),
            Route(at + "/keys", page(self.create_key), methods=["POST"]),
            Route(at + "/keys/status", page(self.key_status), methods=["POST"]),
            Route(at + "/keys/delete", page(self.delete_key), methods=["POST"]),
        ]

    # -- shared ---------------------------------------------------------------------------------

    @staticmethod
    def _user(session: Session) -> str | None:
        p = session.principal
        return p.name if p.kind == "IAMUser" and p.name else None

    async def _iam(
        self, request: Request, session: Session, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.console.call(
            request, session, operation, {"UserName": self._user(session), **params}, "iam"
        )

    async def _section(
        self, request: Request, session: Session, operation: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        from console.app import Denied

        try:
            return await self._iam(request, session, operation, params), None
        except Denied as exc:
            refusal = {"action": exc.action, "resource": exc.resource, "reason": exc.reason}
            return {}, {**refusal, "statements": exc.statements}
        except ClientError as exc:
            return {}, {"code": exc.code, "message": exc.message}

    async def credentials(
        self, request: Request, session: Session, status: int = 200, **values: Any
    ) -> Response:
        user = self._user(session)
        if user is None:
            return self.console.render(
                request, "credentials.html", status, session, user=None, **values
            )
        ssh, ssh_refused = await self._section(request, session, "ListSSHPublicKeys", {})
        https, https_refused = await self._section(
            request, session, "ListServiceSpecificCredentials", {"ServiceName": CODECOMMIT}
        )
        keys, keys_refused = await self._section(request, session, "ListAccessKeys", {})
        notices = list(session.notes)
        session.notes.clear()
        return self.console.render(
            request,
            "credentials.html",
            status,
            session,
            user=user,
            notices=notices,
            ssh_keys=ssh.get("SSHPublicKeys", []),
            ssh_refused=ssh_refused,
            https=https.get("ServiceSpecificCredentials", []),
            https_refused=https_refused,
            keys=keys.get("AccessKeyMetadata", []),
            keys_refused=keys_refused,
            **values,
        )

    async def _act(
        self,
        request: Request,
        session: Session,
        operation: str,
        params: dict[str, Any],
        note: str,
        anchor: str,
    ) -> Response:
        """Run a change; back to the page with `note`, or the page with the operation's error."""
        from console.app import _redirect

        if self._user(session) is None:
            return await self.credentials(request, session, 400)
        try:
            await self._iam(request, session, operation, params)
        except ClientError as exc:
            return await self.credentials(request, session, 400, error=f"{exc.code}: {exc.message}")
        session.notes.append(note)
        del session.notes[:-5]
        return _redirect(request, f"/credentials#{anchor}")

    def _status(self, request: Request) -> str:
        status = request.state.form.get("status", "")
        return status if status in _STATUSES else "Inactive"

    # -- SSH public keys ------------------------------------------------------------------------

    async def upload_ssh(self, request: Request, session: Session) -> Response:
        if self._user(session) is None:
            return await self.credentials(request, session, 400)
        body = request.state.form.get("body", "").strip()
        try:
            out = await self._iam(
                request, session, "UploadSSHPublicKey", {"SSHPublicKeyBody": body}
            )
        except ClientError as exc:
            return await self.credentials(request, session, 400, error=f"{exc.code}: {exc.message}")
        key_id = out["SSHPublicKey"]["SSHPublicKeyId"]
        return await self.credentials(request, session, uploaded=key_id)

    async def ssh_status(self, request: Request, session: Session) -> Response:
        key_id = request.state.form.get("id", "")
        status = self._status(request)
        params = {"SSHPublicKeyId": key_id, "Status": status}
        note = f"SSH key {key_id} is {status.lower()}."
        return await self._act(request, session, "UpdateSSHPublicKey", params, note, "ssh")

    async def delete_ssh(self, request: Request, session: Session) -> Response:
        key_id = request.state.form.get("id", "")
        params = {"SSHPublicKeyId": key_id}
        note = f"Deleted SSH key {key_id}."
        return await self._act(request, session, "DeleteSSHPublicKey", params, note, "ssh")

    # -- HTTPS Git credentials ------------------------------------------------------------------

    def _shown_https(self, out: dict[str, Any]) -> dict[str, str]:
        cred = out["ServiceSpecificCredential"]
        name, password = cred["ServiceUserName"], cred["ServicePassword"]
        return {
            "id": cred["ServiceSpecificCredentialId"],
            "user": name,
            "password": password,
            "csv": csv_link(("User Name", "Password"), (name, password)),
            "file": f"{cred['UserName']}_codecommit_credentials.csv",
        }

    async def create_https(self, request: Request, session: Session) -> Response:
        if self._user(session) is None:
            return await self.credentials(request, session, 400)
        params = {"ServiceName": CODECOMMIT}
        try:
            out = await self._iam(request, session, "CreateServiceSpecificCredential", params)
        except ClientError as exc:
            return await self.credentials(request, session, 400, error=f"{exc.code}: {exc.message}")
        return await self.credentials(request, session, new_https=self._shown_https(out))

    async def reset_https(self, request: Request, session: Session) -> Response:
        if self._user(session) is None:
            return await self.credentials(request, session, 400)
        params = {"ServiceSpecificCredentialId": request.state.form.get("id", "")}
        try:
            out = await self._iam(request, session, "ResetServiceSpecificCredential", params)
        except ClientError as exc:
            return await self.credentials(request, session, 400, error=f"{exc.code}: {exc.message}")
        return await self.credentials(request, session, new_https=self._shown_https(out))

    async def https_status(self, request: Request, session: Session) -> Response:
        cred_id = request.state.form.get("id", "")
        status = self._status(request)
        params = {"ServiceSpecificCredentialId": cred_id, "Status": status}
        note = f"HTTPS Git credential {cred_id} is {status.lower()}."
        return await self._act(
            request, session, "UpdateServiceSpecificCredential", params, note, "https"
        )

    async def delete_https(self, request: Request, session: Session) -> Response:
        cred_id = request.state.form.get("id", "")
        params = {"ServiceSpecificCredentialId": cred_id}
        note = f"Deleted HTTPS Git credential {cred_id}."
        return await self._act(
            request, session, "DeleteServiceSpecificCredential", params, note, "https"
        )

    # -- access keys ----------------------------------------------------------------------------

    async def create_key(self, request: Request, session: Session) -> Response:
        if self._user(session) is None:
            return await self.credentials(request, session, 400)
        try:
            out = await self._iam(request, session, "CreateAccessKey", {})
        except ClientError as exc:
            return await self.credentials(request, session, 400, error=f"{exc.code}: {exc.message}")
        key = out["AccessKey"]
        shown = {
            "id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "csv": csv_link(
                ("Access key ID", "Secret access key"),
                (key["AccessKeyId"], key["SecretAccessKey"]),
            ),
            "file": f"{key['UserName']}_accessKeys.csv",
        }
        return await self.credentials(request, session, new_key=shown)

    async def key_status(self, request: Request, session: Session) -> Response:
        key_id = request.state.form.get("id", "")
        status = self._status(request)
        params = {"AccessKeyId": key_id, "Status": status}
        note = f"Access key {key_id} is {status.lower()}."
        return await self._act(request, session, "UpdateAccessKey", params, note, "keys")

    async def delete_key(self, request: Request, session: Session) -> Response:
        key_id = request.state.form.get("id", "")
        params = {"AccessKeyId": key_id}
        note = f"Deleted access key {key_id}."
        return await self._act(request, session, "DeleteAccessKey", params, note, "keys")
