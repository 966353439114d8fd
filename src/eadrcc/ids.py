"""Opaque ids: a short prefix naming the kind, then time-ordered random characters."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(prefix: str) -> str:
    """`off_01j9z3k8...`: sortable by creation time, unguessable, safe in URLs."""
    millis = int(time.time() * 1000)
    stamp = "".join(_ALPHABET[(millis >> shift) & 31] for shift in range(45, -5, -5))
    bits = secrets.randbits(60)  # one draw, not twelve: ids are made on every write
    tail = "".join(_ALPHABET[(bits >> shift) & 31] for shift in range(55, -5, -5))
    return f"{prefix}_{stamp}{tail}"
