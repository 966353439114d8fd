"""What circulating an RFA to every nation costs the write path.

Two emergencies in one fresh database: a real one, whose RFAs go to every Ally
and partner but Türkiye (67 nations, so 67 `request.circulated` events and 67
response rows per filing), and an exercise whose distribution list is empty — the
same RFA service doing the same work without circulation, measured in the same
run as the baseline. For each, `--rfas` RFAs are filed and `--amendments` need
amendments made through the services (requests.service.create / amend), timing
each call; the machine's load average is printed with the figures.

    python bench/circulation_cost.py [--rfas 40] [--amendments 40] [--repeat 3]
                                     [--database-url URL]

Results also go to bench/results/circulation_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, percentile, save, scratch_database, server_url

from eadrcc import db, logs
from eadrcc.auth import Principal, Role
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies.models import EmergencyCreate
from eadrcc.requests import service as requests
from eadrcc.requests.models import NeedUpdate, RequestCreate

OFFICER = Principal("bench", "bench", Role.DUTY_OFFICER)
RFA = {
    "requesting_country": "TUR",
    "needs": [
        {"resource_type": "shelter.tent.family", "quantity": 1000, "priority": "high"},
        {"resource_type": "usar.heavy", "quantity": 4, "priority": "critical"},
        {"resource_type": "medical.emt.type2", "quantity": 2},
    ],
}


async def emergency(pool: Any, *, exercise: bool) -> str:
    body = EmergencyCreate.model_validate(
        {
            "title": f"Bench {'exercise' if exercise else 'earthquake'}",
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": 37.17, "lon": 37.03},
            "severity": "extreme",
            "exercise": exercise,
        }
    )
    return (await emergencies.create(pool=pool, who=OFFICER, body=body)).id


async def measure(pool: Any, emergency_id: str, rfas: int, amendments: int) -> dict[str, Any]:
    body = RequestCreate.model_validate(RFA)
    filed: list[float] = []
    last: Any = None
    for _ in range(rfas):
        started = time.perf_counter()
        _, last = await requests.create(
            pool=pool, who=OFFICER, emergency_id=emergency_id, body=body, idempotency_key=None
        )
        filed.append((time.perf_counter() - started) * 1000)
    amended: list[float] = []
    need = last["needs"][0]["id"]
    for n in range(amendments):
        started = time.perf_counter()
        await requests.amend(
            pool=pool,
            who=OFFICER,
            request_id=last["id"],
            need_id=need,
            body=NeedUpdate(quantity=1000 + n + 1),
        )
        amended.append((time.perf_counter() - started) * 1000)
    return {"file_ms": summary(filed), "amend_ms": summary(amended)}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 2),  # the least disturbed by the machine's other load
        "p50": round(statistics.median(values), 2),
        "p90": round(percentile(values, 90), 2),
        "max": round(max(values), 2),
    }


async def run_once(server: str, rfas: int, amendments: int) -> dict[str, Any]:
    async with scratch_database(server, "circ") as url:
        pool = await db.create_pool(url, min_size=1, max_size=4)
        try:
            real = await emergency(pool, exercise=False)
            quiet = await emergency(pool, exercise=True)  # empty list: no circulation
            async with pool.acquire() as conn:
                nations = await conn.fetchval("SELECT count(*) FROM partners WHERE code <> 'TUR'")
            # Interleaved, so load changes on the machine hit both alike.
            base = await measure(pool, quiet, rfas // 2, amendments // 2)
            circ = await measure(pool, real, rfas, amendments)
            base2 = await measure(pool, quiet, rfas - rfas // 2, amendments - amendments // 2)
            async with pool.acquire() as conn:
                events = await conn.fetchval(
                    "SELECT count(*) FROM events WHERE kind = 'request.circulated'"
                )
        finally:
            await pool.close()
    return {
        "nations": nations,
        "circulated_events": events,
        "baseline_first_half": base,
        "baseline_second_half": base2,
        "circulated": circ,
        "load_average": os.getloadavg(),
    }


def line(result: dict[str, Any], what: str) -> str:
    """min/p50 with circulation, then the two no-circulation halves measured around it."""
    c, a, b = (
        result[k][what] for k in ("circulated", "baseline_first_half", "baseline_second_half")
    )
    return (
        f"min/p50 {c['min']}/{c['p50']} ms (no circulation {a['min']}/{a['p50']},"
        f" {b['min']}/{b['p50']} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rfas", type=int, default=40)
    parser.add_argument("--amendments", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logs.configure("warning")
    server = server_url(args.database_url)
    runs = []
    for n in range(args.repeat):
        print(f"run {n + 1}/{args.repeat}: load average before {os.getloadavg()}", flush=True)
        result = asyncio.run(run_once(server, args.rfas, args.amendments))
        runs.append(result)
        print(
            f"  {result['nations']} nations: file {line(result, 'file_ms')};"
            f" amend {line(result, 'amend_ms')};"
            f" load after {tuple(round(x, 2) for x in result['load_average'])}",
            flush=True,
        )
    path = save("circulation_cost", {"machine": machine(), "args": vars(args), "runs": runs})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
