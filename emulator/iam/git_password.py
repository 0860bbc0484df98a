"""Git-over-HTTPS passwords signed with SigV4, the form git-remote-codecommit and
`aws codecommit credential-helper` produce.

The Basic-auth user is the access key id, optionally followed by `%` and a session token; the
password is `YYYYMMDDTHHMMSSZ` followed by the hex SigV4 signature of a canonical request whose
method is `GIT`, whose path is `/v1/repos/{name}` and which signs only the `host` header. The
signature is computed with botocore's `SigV4Auth`, the code the clients use, so both sides agree
on every detail of the key derivation.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from emulator.iam.credentials import SigningIdentity
from emulator.iam.principal import Principal

MAX_CLOCK_SKEW = timedelta(minutes=15)
_TIMESTAMP_LEN = len("YYYYMMDDTHHMMSSZ")
_SIGNATURE_LEN = 64

Lookup = Callable[[str], SigningIdentity | None]


def parse_basic_authorization(header: str | None) -> tuple[str, str] | None:
    """Split an `Authorization: Basic ...` header into (user, password); None if absent or not
    Basic or not decodable."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def host_candidates(host: str) -> list[str]:
    """The Host header as sent and without its port: clients sign the host name alone
    (git-remote-codecommit) or with the port of a local endpoint."""
    host = host.strip().lower()
    candidates = [host]
    if host.startswith("["):
        end = host.find("]")
        if end != -1 and host[end + 1 :].startswith(":"):
            candidates.append(host[: end + 1])
    elif host.count(":") == 1:
        candidates.append(host.split(":", 1)[0])
    return candidates


def warm() -> None:
    """Import what `expected_signature` needs now rather than on the first SigV4 password."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials  # noqa: F401


def expected_signature(
    secret_key: str, access_key_id: str, region: str, host: str, path: str, timestamp: str
) -> str:
    """The hex signature for `timestamp` (`YYYYMMDDTHHMMSS`, no `Z`), as the client computes it."""
    # Imported here, not with the module: botocore is a tenth of the server's start-up, and
    # only a SigV4 git password needs it (the server warms it in the background once ready).
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(access_key_id, secret_key), "codecommit", region)
    request = AWSRequest(method="GIT", url=f"https://{host}{path}")
    request.context["timestamp"] = timestamp
    canonical = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    string_to_sign = signer.string_to_sign(request, canonical)
    return str(signer.signature(string_to_sign, request))


def verify_git_password(
    username: str,
    password: str,
    *,
    repository: str,
    hosts: Iterable[str],
    region: str,
    lookup: Lookup,
    now: datetime | None = None,
) -> Principal | None:
    """The principal whose SigV4 git password this is, or None if it does not verify.

    `hosts` are the host names the client may have signed (see `host_candidates`); `now` is
    injectable so fixed vectors can be checked.
    """
    access_key_id, has_token, token = username.partition("%")
    if not access_key_id or len(password) != _TIMESTAMP_LEN + _SIGNATURE_LEN:
        return None
    stamp, signature = password[:_TIMESTAMP_LEN], password[_TIMESTAMP_LEN:]
    if not stamp.endswith("Z"):
        return None
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    current = now if now is not None else datetime.now(UTC)
    identity = lookup(access_key_id)
    if identity is not None and identity.any_signature:
        # Config.accept_any_credentials: a password of the right form is enough, as for the API.
        return identity.principal
    if abs(current - signed_at) > MAX_CLOCK_SKEW:
        return None
    if identity is None or identity.expired(current):
        return None
    # Temporary credentials must present their own session token, and only those have one.
    if not identity.token_matches(token if has_token else None):
        return None
    path = f"/v1/repos/{repository}"
    ok = False
    for host in hosts:
        want = expected_signature(
            identity.secret_key, access_key_id, region, host, path, stamp[:-1]
        )
        # No early exit: every candidate costs the same whether or not an earlier one matched.
        ok = hmac.compare_digest(want.encode(), signature.lower().encode()) | ok
    return identity.principal if ok else None
