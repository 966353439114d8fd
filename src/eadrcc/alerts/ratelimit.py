"""A token bucket per caller, per instance: steady rate, short bursts allowed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from eadrcc.errors import RateLimited


@dataclass
class Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    per_minute: float
    burst: float
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one token for `key`, or raise 429 saying when to retry."""
        now = time.monotonic() if now is None else now
        bucket = self.buckets.setdefault(key, Bucket(self.burst, now))
        rate = self.per_minute / 60
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / rate)
            raise RateLimited(
                f"at most {self.per_minute:g} alerts a minute; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        bucket.tokens -= 1
