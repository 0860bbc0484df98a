"""Run a server's pending background maintenance now (`POST /_ccemu/maintenance`)."""

from __future__ import annotations

import json
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import REGION, Server


def run_maintenance(srv: Server, *, key: str = "test", secret: str = "test") -> int:
    """Returns how many maintenance passes ran; raises `urllib.error.HTTPError` if refused."""
    url = f"{srv.url}/_ccemu/maintenance"
    req = AWSRequest(method="POST", url=url, data=b"", headers={})
    SigV4Auth(Credentials(key, secret), "ccemu", REGION).add_auth(req)
    http_req = urllib.request.Request(
        url, data=b"", headers=dict(req.headers.items()), method="POST"
    )
    with urllib.request.urlopen(http_req, timeout=300) as resp:
        answer = json.loads(resp.read())
    assert answer["status"] == "ok", answer
    return int(answer["passes"])
