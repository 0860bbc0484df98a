"""Verification of AWS Signature Version 4 on API requests (the `Authorization` header form).

The expected signature is rebuilt from the request exactly as it was received (method, raw path
and query, the signed headers, the body), step for step as botocore's `SigV4Auth` builds it on
the client (`canonical_request`, `string_to_sign`, `signature`), with botocore's path
normalization. It is not botocore's signer object itself: building one and an `AWSRequest` per
request cost a third of a small API call. tests/test_sigv4.py holds the two to the same
canonical form over awkward paths, queries and headers. The signing key (four HMACs) depends
only on the secret, the date, the region and the service, and is kept for the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

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


def normalize_url_path(path: str) -> str:
    """The path as botocore's `normalize_url_path` signs it: RFC 3986 dot segments removed
    (section 5.2.4) and, as AWS requires, empty segments dropped; a trailing slash kept.
    Written out here so verifying a signature does not import botocore (a tenth of start-up)."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
        else:
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_request(
    *,
    method: str,
    url: str,
    signed: dict[str, list[str]],
    body_hash: str,
) -> str:
    """The canonical request of SigV4 for a received request, as botocore's
    `SigV4Auth.canonical_request` makes it: `url` as sent (still percent-encoded), `signed` the
    signed headers' values by lower-case name, in the order received."""
    parts = urlsplit(url)
    path = quote(normalize_url_path(parts.path), safe="/~")
    query = ""
    if parts.query:
        pairs = []
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            pairs.append((key, value))
        query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    names = sorted(signed)
    headers = "\n".join(
        f"{name}:" + ",".join(" ".join(v.split()) for v in signed[name]) for name in names
    )
    return "\n".join([method.upper(), path, query, headers + "\n", ";".join(names), body_hash])


_signing_keys: dict[tuple[str, str, str, str], bytes] = {}
_MAX_SIGNING_KEYS = 1024


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (`AWS4` + secret → date → region → service → `aws4_request`)."""
    cache_key = (secret, date, region, service)
    key = _signing_keys.get(cache_key)
    if key is None:
        key = _hmac(
            _hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request"
        )
        if len(_signing_keys) >= _MAX_SIGNING_KEYS:
            _signing_keys.clear()
        _signing_keys[cache_key] = key
    return key


def _check_time(amz_date: str, now: datetime) -> None:
    # `_AMZ_DATE` has checked the shape (YYYYMMDDTHHMMSSZ); strptime costs ten times this.
    d = amz_date
    when = datetime(
        int(d[0:4]),
        int(d[4:6]),
        int(d[6:8]),
        int(d[9:11]),
        int(d[11:13]),
        int(d[13:15]),
        tzinfo=UTC,
    )
    if now - MAX_SKEW <= when <= now + MAX_SKEW:
        return
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

    signed: dict[str, list[str]] = {}
    for name in auth.signed_headers:
        values = received.get(name)
        if values is None:
            raise InvalidSignature(f"Header {name!r} is signed but absent from the request.")
        signed[name] = values

    host = received.get("host", ["localhost"])[0]
    # The payload line of the canonical request is the body's hash, which a signed
    # x-amz-content-sha256 was checked to equal above.
    canonical = canonical_request(
        method=method,
        url=f"http://{host}{raw_path}" + (f"?{query}" if query else ""),
        signed=signed,
        body_hash=body_hash,
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{scope.date}/{scope.region}/{scope.service}/aws4_request",
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = signing_key(identity.secret_key, scope.date, scope.region, scope.service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not _SIGNATURE.fullmatch(auth.signature) or not hmac.compare_digest(
        expected.encode(), auth.signature.encode()
    ):
        raise InvalidSignature(
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    credentials.record_use(scope.access_key_id, scope.service, scope.region)
    return VerifiedRequest(identity=identity, scope=scope)
