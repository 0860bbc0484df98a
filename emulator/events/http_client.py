"""One HTTP POST to a delivery destination, with the guards a webhook sender needs.

- the host is resolved once and the connection goes to the address that was checked, so a DNS
  answer cannot change between the check and the connection;
- link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata endpoints are refused:
  nothing a trigger fires may reach instance credentials. Loopback and private ranges are
  allowed, since delivering to local services is the point of ccemu;
- connect and read timeouts, a cap on how much of the response is read, and no redirects (a 3xx
  is an answer like any other).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# Metadata services outside the link-local ranges (AWS's IPv6 IMDS, Alibaba Cloud, Oracle).
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


class BlockedAddress(Exception):
    """The destination resolves to an address deliveries may not reach; never retried."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (error says why)
    error: str | None
    duration: float
    body: bytes = b""

    @property
    def retryable(self) -> bool:
        """5xx, 429, timeouts and connection errors are retried (SNS's rule)."""
        if self.status is None:
            return True
        return self.status >= 500 or self.status == 429

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr in _METADATA or any(addr in net for net in _LINK_LOCAL):
        raise BlockedAddress(f"deliveries to {addr} (link-local or metadata) are refused")
    if addr.is_unspecified or addr.is_multicast:
        raise BlockedAddress(f"deliveries to {addr} are refused")


def check_url(url: str) -> None:
    """A destination URL must be http(s) with a host; raises ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:200]}")
    if parts.username or parts.password:
        raise ValueError("a destination URL must not hold credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {url[:200]}: {exc}") from None


def _resolve(host: str, port: int) -> tuple[int, str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"cannot resolve {host}")
    for _family, _, _, _, sockaddr in infos:
        check_address(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked address while sending the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, address, timeout)
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    max_response: int,
) -> Answer:
    """POST `body` to `url`. Never raises for network trouble: the answer says what happened.
    Raises `BlockedAddress` when the destination may not be reached at all."""
    start = time.monotonic()
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        _, address = _resolve(host, port)
    except OSError as exc:
        return Answer(None, f"cannot resolve {host}: {exc}", time.monotonic() - start)
    cls = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    conn = cls(host, port, address, timeout)
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        resp = conn.getresponse()
        data = resp.read(max_response)
        return Answer(resp.status, None, time.monotonic() - start, data)
    except TimeoutError:
        return Answer(None, f"timed out after {timeout:g}s", time.monotonic() - start)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    finally:
        conn.close()
