"""Access keys and the secrets behind them."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from emulator.config import Config
from emulator.iam.principal import Principal

_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class SigningIdentity:
    """A principal and the secret its requests are signed with."""

    principal: Principal
    secret_key: str
    session_token: str | None = None


class CredentialStore:
    """Resolves an access key id to the identity that may sign with it.

    The default account's root uses the configured key pair. An access key id of exactly twelve
    digits, signed with the root secret, is the root user of that account, so a second account
    needs no setup.
    """

    def __init__(self, config: Config) -> None:
        self._config = config

    def lookup(self, access_key_id: str) -> SigningIdentity | None:
        cfg = self._config
        if hmac.compare_digest(access_key_id.encode(), cfg.root_access_key.encode()):
            return SigningIdentity(Principal.root(cfg.account, access_key_id), cfg.root_secret_key)
        if _ACCOUNT_ID.fullmatch(access_key_id):
            return SigningIdentity(
                Principal.root(access_key_id, access_key_id), cfg.root_secret_key
            )
        return None
