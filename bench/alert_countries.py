"""Countries an alert's area touches: the STRtree lookup the hub runs per alert,
against a baseline measured in the same run (testing the same widened area against
every country shape in turn, as a loop without an index would), and the whole cost
per alert (building the widened area, then the lookup). Pure CPU, no database.

    .venv/bin/python bench/alert_countries.py [--rounds 3] [--repeat 300]

Prints and saves bench/results/alert_countries.json: per case, p50/p95 in
microseconds for each round (the spread), the index build time, and the machine's
load before the run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine, machine_noise, percentile, save
from shapely.geometry import Polygon

from eadrcc.alerts import geography


def ring(lat: float, lon: float, radius: float, points: int) -> list[tuple[float, float]]:
    """A closed polygon of `points` vertices around (lat, lon), as CAP writes it."""
    step = 2 * math.pi / points
    pts = [(lat + radius * math.sin(i * step), lon + radius * math.cos(i * step)) for i in
           range(points)]  # fmt: skip
    return [*pts, pts[0]]


CASES: dict[str, tuple[Callable[[], list[str]], Callable[[], object]]] = {}


def case(name: str, indexed: Callable[[], list[str]], area: Callable[[], object]) -> None:
    CASES[name] = (indexed, area)


VALLEY = [(61.70, 9.35), (61.85, 9.35), (61.85, 9.75), (61.70, 9.75), (61.70, 9.35)]
BIG = ring(46.0, 10.0, 5.0, 1999)
case("point (Reykjavik)", lambda: geography.countries_of_point(64.13, -21.9),
     lambda: geography._disc(64.13, -21.9, geography.MARGIN_KM))  # fmt: skip
case("circle 50 km (Pazarcik)",
     lambda: geography.countries_of_circle(geography.Circle(37.17, 37.03, 50)),
     lambda: geography._disc(37.17, 37.03, 50 + geography.MARGIN_KM))  # fmt: skip
case("CAP polygon, 5 points (valley)", lambda: geography.countries_of_polygon(VALLEY),
     lambda: geography._margin(Polygon([(b, a) for a, b in VALLEY]), 61.8))  # fmt: skip
case("polygon, 2,000 points (Alps)", lambda: geography.countries_of_polygon(BIG),
     lambda: geography._margin(Polygon([(b, a) for a, b in BIG]), 46.0))  # fmt: skip


def scan(area: object) -> list[str]:
    """The baseline: every country shape tested in turn."""
    world = geography.world()
    geoms = world.tree.geometries
    return sorted({world.codes[i] for i, g in enumerate(geoms) if g.intersects(area)})


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    noise = machine_noise()
    start = time.perf_counter()
    geography.world()
    build_ms = (time.perf_counter() - start) * 1000
    results: dict[str, object] = {}
    for name, (indexed, area) in CASES.items():
        shape = area()
        assert scan(shape) == indexed(), name  # same answer, or the comparison is void
        rounds = []
        world = geography.world()
        for _ in range(args.rounds):
            fast = timed(lambda s=shape, w=world: w.touched(s), args.repeat)  # type: ignore[misc]
            slow = timed(lambda s=shape: scan(s), args.repeat)  # type: ignore[misc]
            whole = timed(indexed, args.repeat)
            rounds.append({
                "lookup_strtree_p50_us": round(percentile(fast, 50), 1),
                "lookup_scan_p50_us": round(percentile(slow, 50), 1),
                "whole_p50_us": round(percentile(whole, 50), 1),
                "whole_p95_us": round(percentile(whole, 95), 1),
            })  # fmt: skip
        results[name] = {"countries": indexed(), "rounds": rounds}
        print(name, indexed())
        for r in rounds:
            print("   ", r)
    out = {
        "machine": machine(),
        "noise": noise,
        "load_after": os.getloadavg()[0],
        "index_build_ms": round(build_ms, 1),
        "shapes_indexed": len(geography.world().codes),
        "repeat": args.repeat,
        "cases": results,
    }
    print(f"index built in {build_ms:.1f} ms; load before {noise}, after {out['load_after']}")
    print("saved", save("alert_countries", out))


if __name__ == "__main__":
    main()
