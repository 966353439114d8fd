"""Proposals are a plan, whatever happens: random offers, needs, accepts, declines,
withdrawals, amendments and movements against real PostgreSQL; after every step no
offer item and no need is over-proposed, acceptance never exceeds what was asked
or offered, the counters agree with the matches, and a declined pairing never
comes back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eadrcc import db
from eadrcc.auth import Principal, Role
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies.models import EmergencyCreate
from eadrcc.errors import EadrccError
from eadrcc.matching import service as matching
from eadrcc.offers import service as offers
from eadrcc.offers.models import OfferCreate
from eadrcc.requests import service as requests
from eadrcc.requests.models import NeedUpdate, RequestCreate

OFFICER = Principal(token_id="tok_property", name="property", role=Role.DUTY_OFFICER)
# Exact matches, a parent and a substitute (heavy USAR fills a medium USAR need).
TYPES = ["shelter.tent.family", "usar.heavy", "usar.medium", "power.generator.medium"]
NATIONS = ["NOR", "DEU", "FRA", "ITA"]
T0 = datetime(2026, 2, 6, 6, tzinfo=UTC)

pick = st.integers(min_value=0, max_value=10_000)
qty = st.integers(min_value=1, max_value=12)
step = st.one_of(
    st.tuples(
        st.just("need"), st.lists(st.tuples(st.sampled_from(TYPES), qty), min_size=1, max_size=3)
    ),
    st.tuples(
        st.just("offer"),
        st.sampled_from(NATIONS),
        st.lists(st.tuples(st.sampled_from(TYPES), qty), min_size=1, max_size=3),
    ),
    st.tuples(st.just("accept"), pick, st.one_of(st.none(), qty)),
    st.tuples(st.just("decline"), pick),
    st.tuples(st.just("withdraw"), pick),
    st.tuples(st.just("amend"), pick, st.one_of(qty, st.just("cancel"), st.just("critical"))),
    st.tuples(st.just("dispatch"), pick),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_the_plan_never_promises_a_unit_twice(db_url: str, steps: list[Any]) -> None:
    asyncio.run(_run(db_url, steps))


async def _run(db_url: str, steps: list[Any]) -> None:
    pool = await db.create_pool(db_url, min_size=1, max_size=2)
    try:
        emergency = await emergencies.create(
            pool=pool,
            who=OFFICER,
            body=EmergencyCreate.model_validate(
                {
                    "title": "property",
                    "hazard": "earthquake",
                    "countries": ["TUR"],
                    "location": {"lat": 37.2, "lon": 37.0},
                    "severity": "extreme",
                }
            ),
        )
        world = World(pool, emergency.id)
        for s in steps:
            try:
                await world.do(s)
            except EadrccError:
                pass  # a refused step (409 and the like) changes nothing
            async with pool.acquire() as conn:
                await assert_plan_holds(conn)
    finally:
        await pool.close()


class World:
    def __init__(self, pool: asyncpg.Pool, emergency_id: str) -> None:
        self.pool, self.emergency_id = pool, emergency_id
        self.requests: list[tuple[str, str]] = []  # (request id, need id)
        self.offers: list[str] = []

    async def do(self, s: Any) -> None:
        await getattr(self, s[0])(*s[1:])

    async def need(self, needs: list[tuple[str, int]]) -> None:
        body = RequestCreate.model_validate(
            {
                "requesting_country": "TUR",
                "needs": [
                    {
                        "resource_type": t,
                        "quantity": n,
                        "needed_by": (T0 + timedelta(hours=n)).isoformat(),
                    }
                    for t, n in needs
                ],
            }
        )
        _, created = await requests.create(
            pool=self.pool,
            who=OFFICER,
            emergency_id=self.emergency_id,
            body=body,
            idempotency_key=None,
        )
        self.requests += [(created["id"], n["id"]) for n in created["needs"]]

    async def offer(self, nation: str, items: list[tuple[str, int]]) -> None:
        body = OfferCreate.model_validate(
            {
                "emergency_id": self.emergency_id,
                "offering_country": nation,
                "channel": "direct",
                "items": [
                    {"resource_type": t, "quantity": n, "available_from": T0.isoformat()}
                    for t, n in items
                ],
            }
        )
        _, created = await offers.create(
            pool=self.pool, who=OFFICER, body=body, idempotency_key=None
        )
        self.offers.append(created["id"])

    async def _match(self, n: int, status: str) -> str | None:
        async with self.pool.acquire() as conn:
            ids = await conn.fetch(
                "SELECT id FROM matches WHERE emergency_id = $1 AND status = $2 ORDER BY id",
                self.emergency_id,
                status,
            )
        return ids[n % len(ids)]["id"] if ids else None

    async def accept(self, n: int, quantity: int | None) -> None:
        if match_id := await self._match(n, "proposed"):
            await matching.accept(pool=self.pool, who=OFFICER, match_id=match_id, quantity=quantity)

    async def decline(self, n: int) -> None:
        if match_id := await self._match(n, "proposed"):
            await matching.decline(pool=self.pool, who=OFFICER, match_id=match_id, reason="no")

    async def dispatch(self, n: int) -> None:
        if match_id := await self._match(n, "accepted"):
            await matching.dispatch(
                pool=self.pool, who=OFFICER, match_id=match_id, quantity=1, eta=None
            )

    async def withdraw(self, n: int) -> None:
        if self.offers:
            await offers.withdraw(
                pool=self.pool, who=OFFICER, offer_id=self.offers[n % len(self.offers)], reason=None
            )

    async def amend(self, n: int, change: int | str) -> None:
        if not self.requests:
            return
        request_id, need_id = self.requests[n % len(self.requests)]
        if change == "cancel":
            body = NeedUpdate(status="cancelled")
        elif change == "critical":
            body = NeedUpdate(priority="critical")
        else:
            body = NeedUpdate(quantity=int(change))
        await requests.amend(
            pool=self.pool, who=OFFICER, request_id=request_id, need_id=need_id, body=body
        )


async def assert_plan_holds(conn: asyncpg.Connection) -> None:
    """The plan's invariants, computed from the matches themselves."""
    needs = await conn.fetch("""
        SELECT n.id, n.quantity, n.allocated, n.proposed, n.status,
               coalesce(sum(m.quantity) FILTER (WHERE m.status = 'proposed'), 0) AS p,
               coalesce(sum(m.quantity)
                        FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS a
        FROM needs n LEFT JOIN matches m ON m.need_id = n.id
        GROUP BY n.id
    """)
    for n in needs:
        assert n["p"] == n["proposed"] and n["a"] == n["allocated"], dict(n)
        assert n["a"] <= n["quantity"], f"need over-allocated: {dict(n)}"
        lacks = n["quantity"] - n["a"] if n["status"] == "open" else 0
        assert n["p"] <= lacks, f"need over-proposed: {dict(n)}"
    items = await conn.fetch("""
        SELECT i.id, i.quantity, i.allocated, i.proposed, i.status, i.possible_duplicate_of,
               coalesce(sum(m.quantity) FILTER (WHERE m.status = 'proposed'), 0) AS p,
               coalesce(sum(m.quantity)
                        FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS a
        FROM offer_items i LEFT JOIN matches m ON m.offer_item_id = i.id
        GROUP BY i.id
    """)
    for i in items:
        assert i["p"] == i["proposed"] and i["a"] == i["allocated"], dict(i)
        assert i["a"] <= i["quantity"], f"item over-allocated: {dict(i)}"
        free = i["quantity"] - i["a"] if i["status"] == "open" else 0
        assert i["p"] <= free, f"item over-proposed: {dict(i)}"
    returned = await conn.fetch("""
        SELECT d.need_id, d.offer_item_id FROM matches d
        JOIN matches m ON m.need_id = d.need_id AND m.offer_item_id = d.offer_item_id
        WHERE d.status = 'declined' AND d.reason = 'no'
          AND m.status IN ('proposed', 'accepted', 'in_transit', 'delivered')
          AND m.created_at > d.updated_at
    """)
    assert returned == [], "a declined pairing came back"
