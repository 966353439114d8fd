"""JSON text on the hot paths: what every offer and event is written as (responses,
event data and frames, JSON values sent to PostgreSQL) and what comes back from it.

orjson encodes and decodes several times faster than the standard library, which
the hub otherwise spent ~10% of an offer's CPU on. `dumps` writes what
`json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)` wrote:
compact UTF-8, dict keys that are no strings written as strings, and anything JSON
has no type for (datetimes included, which orjson would format its own way) as its
str(). Floats are the same numbers, an exponent perhaps written shorter (`1e-7`
for `1e-07`). Request bodies are still read by web.read_json (its own checks).
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
