"""Lambda destinations: a function ARN maps to the URL of a locally run function.

The map comes from the config (`--lambda-endpoints FILE`, `CCEMU_LAMBDA_ENDPOINTS`): a JSON object
of ARN -> URL, e.g. `{"arn:aws:lambda:us-east-1:123456789012:function:build":
"http://127.0.0.1:9000/2015-03-31/functions/function/invocations"}` (the Lambda runtime interface
emulator's invoke URL). The event JSON is POSTed to that URL, as Lambda would invoke the function.
A qualified ARN (`...:function:name:alias`) falls back to the unqualified one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from emulator.events.http_client import check_url

LAMBDA_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,140})(?::(?P<qualifier>[A-Za-z0-9$_-]{1,128}))?$"
)


class LambdaEndpointsError(ValueError):
    pass


def load_endpoints(text: str, origin: str) -> tuple[tuple[str, str], ...]:
    """Parse a JSON object of function ARN -> URL; raises LambdaEndpointsError."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise LambdaEndpointsError(f"{origin}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise LambdaEndpointsError(f"{origin}: expected a JSON object of ARN -> URL")
    pairs = []
    for arn, url in doc.items():
        if not isinstance(url, str) or LAMBDA_ARN.match(arn) is None:
            raise LambdaEndpointsError(f"{origin}: {arn!r} is not a Lambda function ARN -> URL")
        try:
            check_url(url)
        except ValueError as exc:
            raise LambdaEndpointsError(f"{origin}: {arn}: {exc}") from None
        pairs.append((arn, url))
    return tuple(pairs)


def endpoints_from(file: Path | None, env: str | None) -> tuple[tuple[str, str], ...]:
    """The map from the flag's file and/or the environment variable (inline JSON or a path);
    the file's entries win."""
    pairs: list[tuple[str, str]] = []
    if env:
        text = env if env.lstrip().startswith("{") else Path(env).read_text()
        pairs.extend(load_endpoints(text, "CCEMU_LAMBDA_ENDPOINTS"))
    if file is not None:
        pairs.extend(load_endpoints(file.read_text(), str(file)))
    return tuple(dict(pairs).items())


class LambdaMap:
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._urls: Mapping[str, str] = dict(pairs)

    def url(self, arn: str) -> str | None:
        found = self._urls.get(arn)
        if found is not None:
            return found
        m = LAMBDA_ARN.match(arn)
        if m is not None and m.group("qualifier"):
            return self._urls.get(arn.rsplit(":", 1)[0])
        return None
