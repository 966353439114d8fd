"""Opaque ids: a short prefix naming the kind, then time-ordered random characters."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Two characters for each 10 bits: five lookups for the time, six for the rest.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
# Every write makes ids (an offer makes three or more): the randomness is drawn from
# the OS for this many ids at a time, one system call instead of one each.
_DRAW = 64
_drawn: list[int] = []
# A child process never hands out what its parent drew.
os.register_at_fork(after_in_child=_drawn.clear)


def new_id(prefix: str) -> str:
    """`off_01j9z3k8...`: sortable by creation time, unguessable, safe in URLs."""
    millis = int(time.time() * 1000)
    bits = _random60()
    p = _PAIRS
    return (
        f"{prefix}_{p[(millis >> 40) & 1023]}{p[(millis >> 30) & 1023]}{p[(millis >> 20) & 1023]}"
        f"{p[(millis >> 10) & 1023]}{p[millis & 1023]}{p[bits >> 50]}{p[(bits >> 40) & 1023]}"
        f"{p[(bits >> 30) & 1023]}{p[(bits >> 20) & 1023]}{p[(bits >> 10) & 1023]}{p[bits & 1023]}"
    )


def _random60() -> int:
    """60 bits from the OS's cryptographic source (os.urandom, as `secrets` uses)."""
    if not _drawn:
        block = os.urandom(8 * _DRAW)
        _drawn.extend(int.from_bytes(block[n : n + 8]) >> 4 for n in range(0, len(block), 8))
    return _drawn.pop()
