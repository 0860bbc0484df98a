"""When to retry a failed delivery: SNS's HTTP/S delivery policy.

SNS retries an HTTP/S delivery in four phases (AWS's "Amazon SNS message delivery retries"):
`numNoDelayRetries` at once, `numMinDelayRetries` after `minDelayTarget` seconds each, a backoff
phase from `minDelayTarget` to `maxDelayTarget` shaped by `backoffFunction`, then
`numMaxDelayRetries` after `maxDelayTarget` each; `numRetries` counts them all. The default
policy is 3 retries, 20 seconds apart, linear, with no immediate ones.

ccemu uses the same policy for Lambda and webhook destinations, and multiplies every delay by
`Config.delivery_retry_scale`, so tests and labs need not wait a minute for a retry.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
MAX_RETRIES = 100  # SNS's limit for HTTP/S endpoints
MAX_DELAY = 3600


class InvalidPolicy(ValueError):
    pass


@dataclass(frozen=True)
class RetryPolicy:
    num_retries: int = 3
    num_no_delay_retries: int = 0
    min_delay_target: int = 20
    max_delay_target: int = 20
    num_min_delay_retries: int = 0
    num_max_delay_retries: int = 0
    backoff_function: str = "linear"

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based), unscaled."""
        if retry <= self.num_no_delay_retries:
            return 0.0
        retry -= self.num_no_delay_retries
        if retry <= self.num_min_delay_retries:
            return float(self.min_delay_target)
        retry -= self.num_min_delay_retries
        backoff = (
            self.num_retries
            - self.num_no_delay_retries
            - self.num_min_delay_retries
            - self.num_max_delay_retries
        )
        if retry > backoff:
            return float(self.max_delay_target)
        lo, hi = float(self.min_delay_target), float(self.max_delay_target)
        if backoff <= 1 or hi <= lo:
            return lo if backoff <= 1 else lo + (hi - lo) * retry / backoff
        f = (retry - 1) / (backoff - 1)
        if self.backoff_function == "linear":
            return lo + (hi - lo) * f
        if self.backoff_function == "arithmetic":
            return lo + (hi - lo) * f * f
        # geometric and exponential: a constant ratio between consecutive delays.
        return lo * math.pow(hi / max(lo, 1.0), f) if lo > 0 else hi * f

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RetryPolicy:
        return cls(**json.loads(text))

    def to_wire(self) -> dict[str, Any]:
        return {
            "minDelayTarget": self.min_delay_target,
            "maxDelayTarget": self.max_delay_target,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay_retries,
            "numNoDelayRetries": self.num_no_delay_retries,
            "numMinDelayRetries": self.num_min_delay_retries,
            "backoffFunction": self.backoff_function,
        }


DEFAULT_POLICY = RetryPolicy()

_WIRE = {
    "minDelayTarget": "min_delay_target",
    "maxDelayTarget": "max_delay_target",
    "numRetries": "num_retries",
    "numMaxDelayRetries": "num_max_delay_retries",
    "numNoDelayRetries": "num_no_delay_retries",
    "numMinDelayRetries": "num_min_delay_retries",
    "backoffFunction": "backoff_function",
}


def parse_retry_policy(raw: object, base: RetryPolicy = DEFAULT_POLICY) -> RetryPolicy:
    """A `healthyRetryPolicy` / `defaultHealthyRetryPolicy` object; missing fields keep `base`."""
    if not isinstance(raw, dict):
        raise InvalidPolicy("the retry policy must be a JSON object")
    fields: dict[str, Any] = asdict(base)
    for key, value in raw.items():
        name = _WIRE.get(key)
        if name is None:
            raise InvalidPolicy(f"unknown retry policy field {key!r}")
        if name == "backoff_function":
            if value not in BACKOFF_FUNCTIONS:
                raise InvalidPolicy(
                    f"backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}"
                )
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidPolicy(f"{key} must be a non-negative integer")
        fields[name] = value
    policy = RetryPolicy(**fields)
    if policy.num_retries > MAX_RETRIES:
        raise InvalidPolicy(f"numRetries must be at most {MAX_RETRIES}")
    if policy.max_delay_target > MAX_DELAY or policy.min_delay_target > policy.max_delay_target:
        raise InvalidPolicy("minDelayTarget must not exceed maxDelayTarget (at most 3600)")
    phases = (
        policy.num_no_delay_retries + policy.num_min_delay_retries + policy.num_max_delay_retries
    )
    if phases > policy.num_retries:
        raise InvalidPolicy("the retry phases add up to more than numRetries")
    return policy


def topic_policy(delivery_policy: str | None) -> tuple[RetryPolicy, bool]:
    """The HTTP retry policy of a topic's `DeliveryPolicy` attribute, and whether it forbids
    subscription overrides."""
    if not delivery_policy:
        return DEFAULT_POLICY, False
    try:
        doc = json.loads(delivery_policy)
    except ValueError:
        raise InvalidPolicy("DeliveryPolicy is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidPolicy("DeliveryPolicy must be a JSON object")
    http = doc.get("http", {})
    if not isinstance(http, dict):
        raise InvalidPolicy("DeliveryPolicy.http must be a JSON object")
    raw = http.get("defaultHealthyRetryPolicy")
    policy = DEFAULT_POLICY if raw is None else parse_retry_policy(raw)
    return policy, bool(http.get("disableSubscriptionOverrides", False))


def subscription_policy(delivery_policy: str | None, base: RetryPolicy) -> RetryPolicy:
    """A subscription's `DeliveryPolicy` attribute (`{"healthyRetryPolicy": {...}}`)."""
    if not delivery_policy:
        return base
    try:
        doc = json.loads(delivery_policy)
    except ValueError:
        raise InvalidPolicy("DeliveryPolicy is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidPolicy("DeliveryPolicy must be a JSON object")
    raw = doc.get("healthyRetryPolicy")
    return base if raw is None else parse_retry_policy(raw, base)


def effective_topic_policy(delivery_policy: str | None) -> str:
    """The `EffectiveDeliveryPolicy` attribute SNS reports for a topic."""
    policy, disable = topic_policy(delivery_policy)
    return json.dumps(
        {
            "http": {
                "defaultHealthyRetryPolicy": policy.to_wire(),
                "disableSubscriptionOverrides": disable,
                "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
            }
        },
        separators=(",", ":"),
    )
