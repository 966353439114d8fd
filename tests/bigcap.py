"""A large, valid CAP 1.2 alert (~0.9 MB by default): many areas, each a closed
polygon of a few hundred points around south-east Türkiye, as a national warning
service might send for a quake felt across a region. Used by the off-loop parsing
tests and by bench/parse_offloop.py."""

from __future__ import annotations

import math
from datetime import datetime

POINTS_PER_AREA = 600
_AREA_HEAD = "<area><areaDesc>Zone {n}</areaDesc><polygon>"
_AREA_TAIL = (
    "</polygon><geocode><valueName>ISO3166-1</valueName><value>TUR</value></geocode></area>"
)


def _ring(n: int) -> str:
    """A closed ring of POINTS_PER_AREA points, a little offset per zone."""
    lat0, lon0 = 37.0 + (n % 10) * 0.1, 37.0 + (n // 10 % 10) * 0.1
    step = 2 * math.pi / (POINTS_PER_AREA - 1)
    points = [
        f"{lat0 + 0.05 * math.sin(i * step):.5f},{lon0 + 0.05 * math.cos(i * step):.5f}"
        for i in range(POINTS_PER_AREA - 1)
    ]
    return " ".join([*points, points[0]])


def big_cap(identifier: str, sent: datetime, target_bytes: int = 900_000) -> bytes:
    """A valid CAP 1.2 alert of about `target_bytes` (never over it by more than one area)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier>"
        "<sender>bigcap@eadrcc-tests.example</sender>"
        f"<sent>{sent.isoformat(timespec='seconds')}</sent>"
        "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
        "<info><category>Geo</category><event>Earthquake</event>"
        "<urgency>Immediate</urgency><severity>Severe</severity>"
        "<certainty>Observed</certainty>"
        "<headline>Earthquake felt across the region</headline>"
    )
    tail = "</info></alert>\n"
    parts, size, n = [head], len(head) + len(tail), 0
    while True:
        area = _AREA_HEAD.format(n=n) + _ring(n) + _AREA_TAIL
        if size + len(area) > target_bytes and n:
            break
        parts.append(area)
        size += len(area)
        n += 1
    parts.append(tail)
    return "".join(parts).encode()
