"""One webhook POST: the event as /ws sends it, signed like inbound requests.

Headers: X-EADRCC-Timestamp (unix seconds), X-EADRCC-Signature
(`sha256=` HMAC-SHA256 of "<timestamp>.<body>" with the subscription's secret)
and X-EADRCC-Delivery (`<subscription id>:<seq>`, the same on every retry, for
the receiver's de-duplication). Only a 2xx acknowledges; a redirect is an
answer like any other non-2xx and is never followed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp

from eadrcc import __version__
from eadrcc.alerts.signature import sign
from eadrcc.subscriptions.outbound import Guard, Refused

USER_AGENT = f"eadrcc/{__version__} (webhook delivery)"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None
    latency_ms: float


def headers(*, secret: str, delivery: str, body: bytes, now: float | None = None) -> dict[str, str]:
    stamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-EADRCC-Timestamp": stamp,
        "X-EADRCC-Signature": sign(secret, stamp, body),
        "X-EADRCC-Delivery": delivery,
    }


async def post(
    http: aiohttp.ClientSession, guard: Guard, *, url: str, secret: str, delivery: str, body: bytes
) -> Outcome:
    started = time.perf_counter()

    def outcome(error: str | None) -> Outcome:
        return Outcome(error is None, error, (time.perf_counter() - started) * 1000)

    try:
        guard.check_literal(url)  # names are checked in the client's resolver
        async with http.post(
            url,
            data=body,
            headers=headers(secret=secret, delivery=delivery, body=body),
            allow_redirects=False,
        ) as resp:
            resp.release()
            if 200 <= resp.status < 300:
                return outcome(None)
            return outcome(f"HTTP {resp.status}")
    except Refused as exc:
        return outcome(f"refused: {exc}")
    except TimeoutError:
        return outcome("timed out")
    except aiohttp.ClientConnectorError as exc:
        refused = exc.__cause__ if isinstance(exc.__cause__, Refused) else None
        return outcome(f"refused: {refused}" if refused else f"cannot connect: {exc.strerror}")
    except (aiohttp.ClientError, OSError) as exc:
        return outcome(f"{type(exc).__name__}: {str(exc)[:200]}")
