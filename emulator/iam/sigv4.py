"""Verification of AWS Signature Version 4 on API requests (the `Authorization` header form).

The expected signature is rebuilt with botocore's own signer, fed the request exactly as it was
received (method, raw path and query, the signed headers, the body), so the canonicalization is
the one every AWS SDK uses and there is no second copy of it to drift.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from emulator.errors import ClientError
from emulator.iam.credentials import CredentialStore, SigningIdentity

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# AWS rejects a request whose X-Amz-Date is more than 15 minutes from the server's clock.
MAX_SKEW = timedelta(minutes=15)

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


# Authentication failures are HTTP 403, as AWS's common-errors reference lists them
# (IncompleteSignature, MissingAuthenticationToken, UnrecognizedClient); botocore picks the
# exception class from `__type` alone, so the status matters to raw HTTP clients only.
class _AuthError(ClientError):
    status = 403


class MissingAuthenticationToken(_AuthError):
    code = "MissingAuthenticationTokenException"


class IncompleteSignature(_AuthError):
    code = "IncompleteSignatureException"


class InvalidSignature(_AuthError):
    code = "InvalidSignatureException"


class UnrecognizedClient(_AuthError):
    code = "UnrecognizedClientException"


class ExpiredToken(_AuthError):
    code = "ExpiredTokenException"


# AWS's messages, word for word (they are not secrets).
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105
EXPIRED_TOKEN = "The security token included in the request is expired"  # noqa: S105


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class CredentialScope:
    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str


@dataclass(frozen=True)
class AuthorizationHeader:
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class VerifiedRequest:
    """The outcome of a good signature: who signed, and for which region and service."""

    identity: SigningIdentity
    scope: CredentialScope


def parse_authorization(value: str) -> AuthorizationHeader:
    """Parse `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Unsupported authorization algorithm {algorithm[:40]!r}; expected {ALGORITHM}."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise IncompleteSignature(
            "Authorization header requires "
            + ", ".join(f"'{k}'" for k in missing)
            + f" parameter. Authorization={value[:200]}"
        )
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not all(cred[:4]):
        raise IncompleteSignature(
            "Credential should be scoped to a valid region, service and date, in the form"
            f" AKID/YYYYMMDD/region/service/aws4_request: {fields['Credential'][:200]}"
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    if not all(signed) or any(h != h.lower() for h in signed):
        raise IncompleteSignature(f"Invalid SignedHeaders: {fields['SignedHeaders'][:200]}")
    if "host" not in signed:
        raise InvalidSignature("'Host' must be a signed header.")
    return AuthorizationHeader(
        scope=CredentialScope(cred[0], cred[1], cred[2], cred[3]),
        signed_headers=signed,
        signature=fields["Signature"],
    )


class _ReceivedRequestSigner(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 signer, signing exactly the headers the client said it signed."""

    def __init__(
        self, credentials: Credentials, service: str, region: str, signed: HTTPHeaders
    ) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def _check_time(amz_date: str, now: datetime) -> None:
    when = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    fmt = now.strftime(AMZ_DATE_FORMAT)
    # The wording is AWS's, so tools that detect clock skew from the message keep working.
    if when < now - MAX_SKEW:
        raise InvalidSignature(
            f"Signature expired: {amz_date} is now earlier than"
            f" {(now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({fmt} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        raise InvalidSignature(
            f"Signature not yet current: {amz_date} is still later than"
            f" {(now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({fmt} + 15 min.)"
        )


def verify(
    credentials: CredentialStore,
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    now: datetime | None = None,
) -> VerifiedRequest:
    """Verify a SigV4-signed request and return who signed it.

    `raw_path` and `query` are as received (still percent-encoded); `headers` are every header
    of the request, names in any case, repeated names allowed.
    """
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)

    auth_values = received.get("authorization")
    if not auth_values:
        raise MissingAuthenticationToken("Missing Authentication Token")
    auth = parse_authorization(auth_values[0])
    scope = auth.scope

    identity = credentials.find(scope.access_key_id)
    if identity is None:
        raise UnrecognizedClient(INVALID_TOKEN)
    if identity.any_signature:
        # Config.accept_any_credentials: who signed is taken from the key id alone.
        return VerifiedRequest(identity=identity, scope=scope)
    # Temporary credentials are valid only with their own session token, and long-term keys
    # only without one (AWS answers both mistakes as an invalid token).
    tokens = received.get("x-amz-security-token")
    if not identity.token_matches(tokens[0].strip() if tokens else None):
        raise UnrecognizedClient(INVALID_TOKEN)
    current = now or datetime.now(UTC)
    if identity.expired(current):
        raise ExpiredToken(EXPIRED_TOKEN)

    amz_dates = received.get("x-amz-date")
    if not amz_dates:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    amz_date = amz_dates[0].strip()
    if not _AMZ_DATE.fullmatch(amz_date):
        raise IncompleteSignature(f"Invalid X-Amz-Date: {amz_date[:40]}")
    try:
        _check_time(amz_date, current)
    except ValueError:
        raise IncompleteSignature(f"Invalid X-Amz-Date: {amz_date}") from None
    if scope.date != amz_date[:8]:
        raise InvalidSignature(
            f"Credential should be scoped to a valid date: {scope.date} does not match the date"
            f" of X-Amz-Date {amz_date}."
        )

    body_hash = hashlib.sha256(body).hexdigest()
    content_sha = received.get("x-amz-content-sha256")
    if content_sha is not None and content_sha[0].strip() != body_hash:
        raise InvalidSignature(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )

    signed = HTTPHeaders()
    for name in auth.signed_headers:
        values = received.get(name)
        if values is None:
            raise InvalidSignature(f"Header {name!r} is signed but absent from the request.")
        for value in values:
            signed[name] = value

    host = received.get("host", ["localhost"])[0]
    request = AWSRequest(
        method=method,
        url=f"http://{host}{raw_path}" + (f"?{query}" if query else ""),
        data=body,
    )
    # The payload line of the canonical request is then the body's hash, which a signed
    # x-amz-content-sha256 was checked to equal above.
    request.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(
        Credentials(scope.access_key_id, identity.secret_key), scope.service, scope.region, signed
    )
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not _SIGNATURE.fullmatch(auth.signature) or not hmac.compare_digest(
        expected.encode(), auth.signature.encode()
    ):
        raise InvalidSignature(
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    credentials.record_use(scope.access_key_id, scope.service, scope.region)
    return VerifiedRequest(identity=identity, scope=scope)
