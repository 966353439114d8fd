"""Signed integrations (docs/api.md): HMAC-SHA256 over "<timestamp>.<raw body>".

Checked before the body is parsed; any of the integration's live secrets (two
during a rotation) may have signed it; compared in constant time; a timestamp
outside the window is refused, and each signature is accepted once (replays
inside the window are refused by the caller's store, see service.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from eadrcc.errors import Unauthorized

PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(
    *,
    secrets: tuple[str, ...],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    window_seconds: int,
    now: float | None = None,
) -> None:
    if not timestamp or not signature:
        raise Unauthorized("signed request required: X-EADRCC-Timestamp and X-EADRCC-Signature")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise Unauthorized("X-EADRCC-Timestamp must be unix seconds") from None
    if abs((now if now is not None else time.time()) - stamp) > window_seconds:
        raise Unauthorized(f"timestamp outside the {window_seconds} s window")
    # Compare against every live secret (no early exit), so timing tells nothing.
    matches = [hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets]
    if not any(matches):
        raise Unauthorized("bad signature")
