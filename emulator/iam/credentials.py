"""Resolving an access key id to the identity that may sign with it, whatever kind of key.

    root key (configured)        the default account's root user
    moto's test keys             also the default account's root, while the root credentials
                                 are the defaults (`testing`/`testing`, `FOOBARKEY`/`FOOBARSECRET`)
    12 digits                    the root user of that account, signing with the root secret
    AKIA… (CreateAccessKey)      an IAM user, or an account's root user; Active keys only
    ASIA… (STS)                  a session: the assumed role or the user that asked for it; the
                                 session token must come with it, and it expires
    anything else, with          the root user of the default account, or of the account a
    accept_any_credentials       12-digit key names, whatever the signature and token (moto
                                 accepts any key; keys IAM and STS issued are still verified)

Deactivating or deleting a key takes effect on the next request: nothing is cached here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from emulator.config import DEFAULT_ROOT_ACCESS_KEY, DEFAULT_ROOT_SECRET_KEY, Config
from emulator.iam.keys import Keys
from emulator.iam.keys.common import find_user, user_principal, utcnow
from emulator.iam.keys.sessions import Sessions
from emulator.iam.principal import Principal

_ACCOUNT_ID = re.compile(r"\d{12}")

# The credentials moto's documentation tells test suites to export (with AWS_SESSION_TOKEN and
# AWS_SECURITY_TOKEN set to "testing" too), and the ones its decorators set, so a suite written
# for moto's server mode signs as the default account's root unchanged. Accepted only while the
# root credentials are the well-known defaults: changing them closes this door as well.
MOTO_TEST_KEYS: dict[str, tuple[str, str | None]] = {
    "testing": ("testing", "testing"),  # secret, the session token moto's docs export
    "FOOBARKEY": ("FOOBARSECRET", None),
}


@dataclass(frozen=True)
class SigningIdentity:
    """A principal and the secret its requests are signed with.

    `session_token` is set for temporary credentials only; the request must carry it.
    """

    principal: Principal
    secret_key: str
    session_token: str | None = None
    # For temporary credentials: the SHA-256 of the session token (the token itself is not
    # stored), checked with `token_matches`.
    token_sha256: bytes | None = None
    # A long-term key that also accepts this session token (moto's `testing` keys).
    tolerated_token: str | None = None
    # Any signature, time and session token are accepted (Config.accept_any_credentials).
    any_signature: bool = False

    @property
    def temporary(self) -> bool:
        return self.token_sha256 is not None or self.session_token is not None

    def token_matches(self, token: str | None) -> bool:
        """Whether `token` is this identity's session token (None: no token presented).
        Long-term keys match only the absence of a token."""
        if self.any_signature:
            return True
        if not self.temporary:
            if token is None:
                return True
            tolerated = self.tolerated_token
            return tolerated is not None and hmac.compare_digest(token.encode(), tolerated.encode())
        if token is None:
            return False
        if self.session_token is not None:
            return hmac.compare_digest(token.encode(), self.session_token.encode())
        if self.token_sha256 is None:
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.token_sha256)

    def expired(self, now: datetime) -> bool:
        expires = self.principal.expires
        return expires is not None and now >= expires


class CredentialStore:
    """Resolves an access key id to the identity that may sign with it.

    The default account's root uses the configured key pair. An access key id of exactly twelve
    digits, signed with the root secret, is the root user of that account, so a second account
    needs no setup. Keys created through IAM and sessions from STS are found in `keys` and
    `sessions` when the emulator has them.
    """

    def __init__(
        self, config: Config, keys: Keys | None = None, sessions: Sessions | None = None
    ) -> None:
        self._config = config
        self._keys = keys
        self._sessions = sessions

    def find(self, access_key_id: str) -> SigningIdentity | None:
        """Any identity this key id names, including an expired session (so the API can answer
        ExpiredToken); None for unknown, inactive or deleted keys."""
        cfg = self._config
        if cfg.accept_any_credentials:
            return self._issued(access_key_id) or self._any(access_key_id)
        if hmac.compare_digest(access_key_id.encode(), cfg.root_access_key.encode()):
            return SigningIdentity(Principal.root(cfg.account, access_key_id), cfg.root_secret_key)
        moto = MOTO_TEST_KEYS.get(access_key_id)
        if moto is not None and self._test_keys_allowed():
            secret, token = moto
            return SigningIdentity(
                Principal.root(cfg.account, access_key_id), secret, tolerated_token=token
            )
        if _ACCOUNT_ID.fullmatch(access_key_id):
            return SigningIdentity(
                Principal.root(access_key_id, access_key_id), cfg.root_secret_key
            )
        return self._issued(access_key_id)

    def _issued(self, access_key_id: str) -> SigningIdentity | None:
        """A key IAM (CreateAccessKey) or STS issued."""
        if access_key_id.startswith("AKIA") and self._keys is not None:
            return self._long_term(self._keys, access_key_id)
        if access_key_id.startswith("ASIA") and self._sessions is not None:
            session = self._sessions.find(access_key_id)
            if session is None:
                return None
            return SigningIdentity(
                session.principal, session.secret_access_key, token_sha256=session.token_sha256
            )
        return None

    def _any(self, access_key_id: str) -> SigningIdentity:
        """What any other key id is when any credentials are accepted: a root user, as moto
        treats every request, of the account a 12-digit key names or else the default one."""
        cfg = self._config
        account = access_key_id if _ACCOUNT_ID.fullmatch(access_key_id) else cfg.account
        return SigningIdentity(Principal.root(account, access_key_id), "", any_signature=True)

    def _test_keys_allowed(self) -> bool:
        cfg = self._config
        return (cfg.root_access_key, cfg.root_secret_key) == (
            DEFAULT_ROOT_ACCESS_KEY,
            DEFAULT_ROOT_SECRET_KEY,
        )

    def lookup(self, access_key_id: str, now: datetime | None = None) -> SigningIdentity | None:
        """The identity that may sign with this key id now: as `find`, but None once a
        session has expired. Temporary identities still need their token checked
        (`SigningIdentity.token_matches`)."""
        identity = self.find(access_key_id)
        if identity is None or identity.expired(now or utcnow()):
            return None
        return identity

    def record_use(self, access_key_id: str, service: str, region: str) -> None:
        """Note a verified request for GetAccessKeyLastUsed (IAM access keys only)."""
        if access_key_id.startswith("AKIA") and self._keys is not None:
            self._keys.access.record_use(access_key_id, service, region)

    @staticmethod
    def _long_term(keys: Keys, access_key_id: str) -> SigningIdentity | None:
        found = keys.access.secret(access_key_id)
        if found is None:
            return None
        if found.user_name is None:
            principal = Principal.root(found.account, access_key_id)
        else:
            user = find_user(keys.users, found.account, found.user_name)
            if user is None:
                return None
            principal = user_principal(user, access_key_id)
        return SigningIdentity(principal, found.secret_access_key)
