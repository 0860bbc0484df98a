"""Private keys a new data dir needs, and making the slow one while the server loads.

An RSA key is a random search for primes: 2048 bits take 20 to 200 ms on one core, more on a
busy machine, and the SSH door of a new data dir needs one. OpenSSL releases the GIL while it
searches, so `ccemu serve` starts the search in a thread before it imports the server and the
two overlap instead of adding up; the key is used, and written, only where it always was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

# The SSH host keys' files in the data dir (ssh_server.host_keys reads and writes them).
ED25519_HOST_KEY = "ssh_host_ed25519_key"
RSA_HOST_KEY = "ssh_host_rsa_key"
# 2048 bits (112-bit security, accepted by every OpenSSH): 3072 would add a quarter second on
# average to the first start, which CI fixtures pay on every run; Ed25519 is offered first anyway.
RSA_BITS = 2048


def ed25519_pem() -> bytes:
    """A new Ed25519 private key, PEM in OpenSSH's format."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def rsa_pem() -> bytes:
    """A new RSA private key of RSA_BITS, PEM in OpenSSH's format."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


class _Pending:
    """`make()` running in a daemon thread; calling this waits for its result (or raises what it
    raised)."""

    def __init__(self, make: Callable[[], bytes]) -> None:
        self._make = make
        self._result: bytes | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ccemu-keygen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._make()
        except BaseException as exc:
            self._error = exc

    def __call__(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def rsa_host_key_maker(data_dir: Path) -> Callable[[], bytes]:
    """What makes the RSA host key's PEM for `data_dir`: already under way in the background
    if the data dir has no such key yet, else made on demand (it will not be asked for)."""
    if (data_dir / RSA_HOST_KEY).exists():
        return rsa_pem
    return _Pending(rsa_pem)
