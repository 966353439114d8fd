# Turkish place names (Adıyaman, Pazarcık) use the dotless ı on purpose.
"""End to end: the February 2023 Kahramanmaraş earthquakes, played through the HTTP API.

On 6 February 2023 at 04:17 local time a Mw 7.8 earthquake struck near Pazarcık
(Kahramanmaraş), followed nine hours later by a Mw 7.5 shock near Elbistan.
The same day Türkiye asked NATO for help through the EADRCC: first urban
search and rescue (USAR) teams, then field hospitals and emergency medical
teams, winterised tents, blankets, heaters and generators for survivors
sleeping outdoors in sub-zero nights. Allies and partners answered directly,
through the EU Civil Protection Mechanism, bilaterally and through the UN.

The nations, channels, places and kinds of help follow the public record; the
QUANTITIES, TIMES AND ORIGINS ARE ILLUSTRATIVE, chosen to be plausible and to
exercise the hub (substitutes, partial acceptance, amendment, withdrawal,
partial delivery), not to reproduce the real figures.

One story, step by step, with every per-need number checked after each step:
1. a duty officer opens the emergency; the Türkiye POC files the RFA;
2. eighteen nations offer, each through its own POC;
3. Türkiye accepts proposals, best score first, one of them only in part;
4. Türkiye amends two needs;
5. Spain withdraws an offer after its EMT was accepted;
6. help is dispatched and delivered, some of it only in part;
7. the situation report, as JSON, as Markdown, and as it stood before acceptance;
8. authorisation spot checks along the way (another nation may not decide for
   Türkiye, withdraw for Spain or offer in France's name);
9. epilogue: Türkiye declines Greece's blankets, and they must stay declined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import Api, api

Client = TestClient  # type: ignore[type-arg]
Point = tuple[float, float]


def at(day: int, hour: int, minute: int = 0) -> str:
    """A moment in February 2023, Türkiye time (UTC+3)."""
    return f"2023-02-{day:02d}T{hour:02d}:{minute:02d}:00+03:00"


# --- Places ---------------------------------------------------------------------------
PAZARCIK = (37.23, 37.02)  # the first shock's epicentre
KAHRAMANMARAS = (37.58, 36.93)
ANTAKYA = (36.21, 36.16)  # Hatay province
ADIYAMAN = (37.76, 38.28)

SCHIPHOL = (52.31, 4.76)
COLOGNE_BONN = (50.87, 7.14)
STANSTED = (51.89, 0.24)
WARSAW = (52.17, 20.97)
DOVER_AFB = (39.13, -75.47)
BEN_GURION = (32.01, 34.89)
OTOPENI = (44.57, 26.08)
ELEFSINA = (38.07, 23.56)
KYIV = (50.45, 30.52)
BAKU = (40.47, 50.05)
TORREJON = (40.49, -3.45)
NARITA = (35.77, 140.39)
GARDERMOEN = (60.19, 11.10)
PISA = (43.68, 10.39)
NIMES = (43.76, 4.42)
ARLANDA = (59.65, 17.92)
HELSINKI = (60.32, 24.96)
BUDAPEST = (47.44, 19.26)

# --- Türkiye's request for assistance (6 February 2023) -----------------------------------
NEEDS: list[tuple[str, int, str, str, Point, str]] = [
    # (resource type, quantity, priority, needed by, delivery point)
    ("usar.heavy", 8, "critical", at(7, 12), KAHRAMANMARAS, "Kahramanmaraş"),
    ("usar.medium", 4, "critical", at(7, 12), ANTAKYA, "Antakya, Hatay"),
    ("medical.emt.type2", 4, "critical", at(8, 12), ANTAKYA, "Antakya, Hatay"),
    ("medical.field_hospital", 2, "high", at(10, 12), ADIYAMAN, "Adıyaman"),
    ("shelter.tent.winterised", 10_000, "high", at(9, 12), KAHRAMANMARAS, "Kahramanmaraş"),
    ("shelter.blanket", 50_000, "high", at(9, 12), ADIYAMAN, "Adıyaman"),
    ("shelter.heater", 5_000, "normal", at(12, 12), KAHRAMANMARAS, "Kahramanmaraş"),
    ("power.generator.medium", 100, "normal", at(12, 12), ANTAKYA, "Antakya, Hatay"),
]

INSARAG = ("insarag.classified",)
WHO_EMT = ("who.emt.classified",)


@dataclass(frozen=True)
class Give:
    """One offered line."""

    resource_type: str
    quantity: int
    available_from: str
    credentials: tuple[str, ...] = ()
    self_sufficient: bool = False


@dataclass(frozen=True)
class Pledge:
    """One nation's offer through one channel, and what the hub should propose at once
    (need's resource type → quantity)."""

    country: str
    channel: str
    origin: Point
    items: tuple[Give, ...]
    proposes: dict[str, int]


# --- The nations' offers ----------------------------------------------------------------
# Heavy USAR teams could fill the medium need as substitutes, but are planned for the
# heavy need first (an exact fill before a substitute); the Israeli EMT Type 3 fills the
# Type 2 need; Norway's EMT, much sooner there, displaces Japan's standing proposal;
# high-thermal blankets fill the blanket need; a large generator does not fill a need
# for medium ones.
# fmt: off
PLEDGES: tuple[Pledge, ...] = (
    # USAR teams
    Pledge("NLD", "direct", SCHIPHOL, (
        Give("usar.heavy", 1, at(6, 14), INSARAG, self_sufficient=True),  # USAR.nl
        Give("shelter.blanket", 5_000, at(7, 12)),
    ), {"usar.heavy": 1, "shelter.blanket": 5_000}),
    Pledge("DEU", "eu_ucpm", COLOGNE_BONN, (
        Give("usar.heavy", 1, at(6, 16), INSARAG, self_sufficient=True),  # ISAR Germany
        Give("shelter.tent.winterised", 2_000, at(7, 12), ("eu.ucpm.certified",)),  # THW
    ), {"usar.heavy": 1, "shelter.tent.winterised": 2_000}),
    Pledge("GBR", "bilateral", STANSTED, (
        Give("usar.heavy", 1, at(6, 18), INSARAG, self_sufficient=True),  # UK ISAR
        Give("medical.emt.type2", 1, at(7, 12), WHO_EMT, self_sufficient=True),  # UK-Med
    ), {"usar.heavy": 1, "medical.emt.type2": 1}),
    Pledge("POL", "eu_ucpm", WARSAW, (
        Give("usar.heavy", 1, at(6, 15), INSARAG, self_sufficient=True),  # HUSAR Poland
        Give("shelter.blanket", 10_000, at(7, 10)),
    ), {"usar.heavy": 1, "shelter.blanket": 10_000}),
    Pledge("USA", "bilateral", DOVER_AFB, (
        Give("usar.heavy", 2, at(6, 20), INSARAG, self_sufficient=True),  # USA-1 and USA-2
    ), {"usar.heavy": 2}),
    Pledge("ISR", "bilateral", BEN_GURION, (
        Give("usar.heavy", 1, at(6, 12), INSARAG, self_sufficient=True),  # IDF Home Front
        Give("medical.emt.type3", 1, at(7, 18), WHO_EMT, self_sufficient=True),  # field hosp.
    ), {"usar.heavy": 1, "medical.emt.type2": 1}),
    Pledge("ROU", "eu_ucpm", OTOPENI, (
        Give("usar.medium", 1, at(6, 13), INSARAG, self_sufficient=True),
        Give("shelter.heater", 500, at(8, 8)),
    ), {"usar.medium": 1, "shelter.heater": 500}),
    Pledge("GRC", "eu_ucpm", ELEFSINA, (
        Give("usar.medium", 1, at(6, 11), INSARAG, self_sufficient=True),  # EMAK
        Give("shelter.blanket", 3_000, at(7, 9)),
    ), {"usar.medium": 1, "shelter.blanket": 3_000}),
    # Ukraine has OCC on record in the partner registry, so it may claim that credential.
    Pledge("UKR", "direct", KYIV, (
        Give("usar.medium", 1, at(6, 16), ("nato.occ.evaluated",), self_sufficient=True),
    ), {"usar.medium": 1}),
    Pledge("AZE", "bilateral", BAKU, (
        Give("usar.medium", 1, at(6, 10), self_sufficient=True),
    ), {"usar.medium": 1}),
    # Medical teams and field hospitals
    Pledge("ESP", "eu_ucpm", TORREJON, (
        Give("medical.emt.type2", 1, at(7, 10), WHO_EMT, self_sufficient=True),  # START
        Give("shelter.heater", 600, at(8, 12)),
    ), {"medical.emt.type2": 1, "shelter.heater": 600}),
    Pledge("JPN", "bilateral", NARITA, (
        Give("medical.emt.type2", 1, at(9, 12), WHO_EMT, self_sufficient=True),  # JDR
    ), {"medical.emt.type2": 1}),
    Pledge("NOR", "direct", GARDERMOEN, (
        Give("medical.emt.type2", 1, at(7, 20), WHO_EMT, self_sufficient=True),
        Give("power.generator.medium", 20, at(8, 12)),
    ), {"medical.emt.type2": 1, "power.generator.medium": 20}),
    Pledge("ITA", "eu_ucpm", PISA, (
        Give("medical.field_hospital", 1, at(8, 8), WHO_EMT, self_sufficient=True),
        Give("power.generator.medium", 25, at(8, 12)),
    ), {"medical.field_hospital": 1, "power.generator.medium": 25}),
    Pledge("FRA", "eu_ucpm", NIMES, (
        Give("medical.field_hospital", 1, at(8, 6), WHO_EMT, self_sufficient=True),  # ESCRIM
        Give("power.generator.large", 4, at(8, 12)),  # fills no need for medium sets
    ), {"medical.field_hospital": 1}),
    # Shelter, heating and power
    Pledge("NOR", "un", GARDERMOEN, (  # Norway's second offer, through UNHCR stocks
        Give("shelter.tent.winterised", 1_000, at(8, 12)),
    ), {"shelter.tent.winterised": 1_000}),
    Pledge("SWE", "eu_ucpm", ARLANDA, (
        Give("shelter.tent.winterised", 4_000, at(7, 8), ("eu.resceu",)),
        Give("shelter.blanket", 15_000, at(7, 8)),
    ), {"shelter.tent.winterised": 4_000, "shelter.blanket": 15_000}),
    Pledge("FIN", "eu_ucpm", HELSINKI, (
        Give("shelter.tent.winterised", 1_500, at(8, 8)),
        Give("shelter.blanket.thermal", 8_000, at(7, 14), ("eu.resceu",)),
        Give("shelter.heater", 1_500, at(8, 8)),
    ), {"shelter.tent.winterised": 1_500, "shelter.blanket": 8_000, "shelter.heater": 1_500}),
    Pledge("HUN", "eu_ucpm", BUDAPEST, (
        Give("shelter.heater", 1_000, at(8, 10)),
        Give("power.generator.medium", 30, at(8, 10)),
    ), {"shelter.heater": 1_000, "power.generator.medium": 30}),
)
# fmt: on
NATIONS = sorted({p.country for p in PLEDGES})

# A need's picture: the numbers GET /api/v1/requests/{id} gives for each need.
FIELDS = (
    "requested",
    "proposed",
    "accepted",
    "in_transit",
    "delivered",
    "uncovered_quantity",
    "duplicated",
    "uncovered",
)
Picture = dict[str, tuple[int, int, int, int, int, int, bool, bool]]


# --- The expected picture of every need after each step ---------------------------------------
# Computed by hand. Proposals are a plan: each unit offered is proposed to one need at
# most, and a need is proposed no more than it lacks. A proposal is not cover: `gap` is
# requested - accepted - moving - delivered. "acc" is accepted and not yet moving,
# "moving" dispatched and not yet delivered. `dup`: the same help reached the need through
# two channels (Sweden's blankets, announced again bilaterally).
# fmt: off
AFTER_OFFERS: Picture = {
    #                           req     prop    acc     moving  deliv   gap     dup    uncov
    "usar.heavy":              (8,      7,      0,      0,      0,      8,      False, True),
    "usar.medium":             (4,      4,      0,      0,      0,      4,      False, True),
    "medical.emt.type2":       (4,      4,      0,      0,      0,      4,      False, True),
    "medical.field_hospital":  (2,      2,      0,      0,      0,      2,      False, True),
    "shelter.tent.winterised": (10_000, 8_500,  0,      0,      0,      10_000, False, True),
    "shelter.blanket":         (50_000, 41_000, 0,      0,      0,      50_000, True,  True),
    "shelter.heater":          (5_000,  3_600,  0,      0,      0,      5_000,  False, True),
    "power.generator.medium":  (100,    75,     0,      0,      0,      100,    False, True),
}
AFTER_ACCEPTANCE: Picture = {
    #                           req     prop    acc     moving  deliv   gap     dup    uncov
    "usar.heavy":              (8,      0,      7,      0,      0,      1,      False, True),
    "usar.medium":             (4,      1,      3,      0,      0,      1,      False, True),
    "medical.emt.type2":       (4,      0,      4,      0,      0,      0,      False, False),
    "medical.field_hospital":  (2,      0,      2,      0,      0,      0,      False, False),
    "shelter.tent.winterised": (10_000, 4_000,  4_500,  0,      0,      5_500,  False, True),
    "shelter.blanket":         (50_000, 8_000,  33_000, 0,      0,      17_000, True,  True),
    "shelter.heater":          (5_000,  1_100,  2_500,  0,      0,      2_500,  False, True),
    "power.generator.medium":  (100,    20,     55,     0,      0,      45,     False, True),
}
AFTER_AMENDMENTS: Picture = {
    #                           req     prop    acc     moving  deliv   gap     dup    uncov
    "usar.heavy":              (8,      0,      7,      0,      0,      1,      False, True),
    "usar.medium":             (3,      0,      3,      0,      0,      0,      False, False),
    "medical.emt.type2":       (4,      0,      4,      0,      0,      0,      False, False),
    "medical.field_hospital":  (2,      0,      2,      0,      0,      0,      False, False),
    "shelter.tent.winterised": (12_000, 4_000,  4_500,  0,      0,      7_500,  False, True),
    "shelter.blanket":         (50_000, 8_000,  33_000, 0,      0,      17_000, True,  True),
    "shelter.heater":          (5_000,  1_100,  2_500,  0,      0,      2_500,  False, True),
    "power.generator.medium":  (100,    20,     55,     0,      0,      45,     False, True),
}
AFTER_WITHDRAWAL: Picture = {
    #                           req     prop    acc     moving  deliv   gap     dup    uncov
    "usar.heavy":              (8,      0,      7,      0,      0,      1,      False, True),
    "usar.medium":             (3,      0,      3,      0,      0,      0,      False, False),
    "medical.emt.type2":       (4,      1,      3,      0,      0,      1,      False, True),
    "medical.field_hospital":  (2,      0,      2,      0,      0,      0,      False, False),
    "shelter.tent.winterised": (12_000, 4_000,  4_500,  0,      0,      7_500,  False, True),
    "shelter.blanket":         (50_000, 8_000,  33_000, 0,      0,      17_000, True,  True),
    "shelter.heater":          (5_000,  500,    2_500,  0,      0,      2_500,  False, True),
    "power.generator.medium":  (100,    20,     55,     0,      0,      45,     False, True),
}
FINAL_PICTURE: Picture = {
    #                           req     prop    acc     moving  deliv   gap     dup    uncov
    "usar.heavy":              (8,      0,      4,      0,      3,      1,      False, True),
    "usar.medium":             (3,      0,      3,      0,      0,      0,      False, False),
    "medical.emt.type2":       (4,      0,      4,      0,      0,      0,      False, False),
    "medical.field_hospital":  (2,      0,      1,      0,      1,      0,      False, False),
    "shelter.tent.winterised": (12_000, 4_000,  1_000,  500,    3_000,  7_500,  False, True),
    "shelter.blanket":         (50_000, 8_000,  18_000, 15_000, 0,      17_000, True,  True),
    "shelter.heater":          (5_000,  500,    2_500,  0,      0,      2_500,  False, True),
    "power.generator.medium":  (100,    20,     25,     0,      30,     45,     False, True),
}
# fmt: on


@dataclass
class Story:
    """What the test knows as the story unfolds."""

    client: Client
    officer: Api
    tur: Api
    poc: dict[str, Api]
    emergency_id: str = ""
    rfa_id: str = ""
    need: dict[str, str] = field(default_factory=dict)  # resource type → need id
    offer: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (ISO3, channel)
    accepted: dict[tuple[str, str], str] = field(default_factory=dict)  # (ISO3, need) → match


# --- Helpers ----------------------------------------------------------------------------
def offer_body(story: Story, pledge: Pledge) -> dict[str, Any]:
    lat, lon = pledge.origin
    return {
        "emergency_id": story.emergency_id,
        "offering_country": pledge.country,
        "channel": pledge.channel,
        "items": [
            {
                "resource_type": g.resource_type,
                "quantity": g.quantity,
                "available_from": g.available_from,
                "origin": {"lat": lat, "lon": lon},
                "self_sufficient": g.self_sufficient,
                "credentials": list(g.credentials),
            }
            for g in pledge.items
        ],
    }


def proposed_by_need(story: Story, matches: list[dict[str, Any]]) -> dict[str, int]:
    """{need's resource type: quantity} of a list of proposals."""
    type_of = {need_id: code for code, need_id in story.need.items()}
    out: dict[str, int] = {}
    for m in matches:
        assert m["status"] == "proposed", m
        out[type_of[m["need_id"]]] = out.get(type_of[m["need_id"]], 0) + m["quantity"]
    return out


async def picture(story: Story) -> Picture:
    rfa = await story.tur.get(f"/api/v1/requests/{story.rfa_id}")
    return {n["resource_type"]: tuple(n[f] for f in FIELDS) for n in rfa["needs"]}  # type: ignore[misc]


async def assert_picture(story: Story, expected: Picture) -> None:
    got = await picture(story)
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, f"(got, expected) per need: {wrong}"
    assert got.keys() == expected.keys()


async def proposals(story: Story, need: str) -> list[dict[str, Any]]:
    listed = await story.tur.get(
        f"/api/v1/emergencies/{story.emergency_id}/matches?status=proposed"
    )
    assert all(m["status"] == "proposed" for m in listed)
    return [m for m in listed if m["need_id"] == story.need[need]]


async def accept_best(story: Story, need: str, country: str, quantity: int | None = None) -> None:
    """Türkiye lists the proposals for a need and accepts the best-scored one, which
    must be `country`'s (all or `quantity` of it)."""
    ranked = sorted(await proposals(story, need), key=lambda m: m["score"], reverse=True)
    assert ranked, f"no proposals left for {need}"
    best = ranked[0]
    scores = [(m["offering_country"], m["score"]) for m in ranked]
    assert best["offering_country"] == country, scores
    assert len(ranked) == 1 or ranked[1]["score"] < best["score"], scores  # no tie
    body = None if quantity is None else {"quantity": quantity}
    done = await story.tur.post(f"/api/v1/matches/{best['id']}/accept", body, expect=200)
    assert done["status"] == "accepted"
    assert done["quantity"] == (quantity or best["quantity"])
    story.accepted[(country, need)] = done["id"]


async def sitrep(story: Story, query: str = "") -> dict[str, Any]:
    return await story.officer.get(f"/api/v1/emergencies/{story.emergency_id}/sitrep{query}")


# --- The story ----------------------------------------------------------------------------
async def test_kahramanmaras_earthquakes(client: Client, make_token: TokenFactory) -> None:
    story = Story(
        client,
        officer=await api(client, make_token, "duty_officer"),
        tur=await api(client, make_token, "poc", "TUR"),
        poc={c: await api(client, make_token, "poc", c) for c in NATIONS},
    )
    await step1_emergency_and_rfa(story)
    await step2_offers(story)
    before = await sitrep(story)  # the picture before Türkiye accepts anything
    await step3_acceptance(story)
    await step4_amendments(story)
    await step5_withdrawal(story)
    await step6_dispatch_and_delivery(story)
    await step7_sitrep(story, before)
    await step9_a_declined_offer_stays_declined(story)


async def step1_emergency_and_rfa(story: Story) -> None:
    # Step 1: the duty officer opens the emergency; Türkiye's POC files the RFA.
    lat, lon = PAZARCIK
    emergency = await story.officer.post(
        "/api/v1/emergencies",
        {
            "title": "Kahramanmaraş earthquakes",
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": lat, "lon": lon},
            "severity": "extreme",
        },
        expect=201,
    )
    assert (emergency["status"], emergency["exercise"]) == ("active", False)
    story.emergency_id = emergency["id"]

    needs = [
        {
            "resource_type": code,
            "quantity": quantity,
            "priority": priority,
            "needed_by": needed_by,
            "delivery": {"lat": point[0], "lon": point[1], "place": place},
        }
        for code, quantity, priority, needed_by, point, place in NEEDS
    ]
    rfa = await story.tur.post(
        f"/api/v1/emergencies/{story.emergency_id}/requests",
        {"requesting_country": "TUR", "reference": "AFAD 2023/02-06", "needs": needs},
        expect=201,
    )
    story.rfa_id = rfa["id"]
    story.need = {n["resource_type"]: n["id"] for n in rfa["needs"]}
    assert [n["resource_type"] for n in rfa["needs"]] == [n[0] for n in NEEDS]
    assert rfa["needs"][1]["delivery"]["place"] == "Antakya, Hatay"
    # Nothing offered yet: every need is wholly uncovered.
    await assert_picture(story, {code: (q, 0, 0, 0, 0, q, False, True) for code, q, *_ in NEEDS})


async def step2_offers(story: Story) -> None:
    # Step 2: the nations answer, each through its own POC and channel.
    # Step 8 (authorisation): Germany's POC may not offer in France's name.
    france = next(p for p in PLEDGES if p.country == "FRA")
    denied = await story.poc["DEU"].post("/api/v1/offers", offer_body(story, france), expect=403)
    assert denied["status"] == 403

    # Azerbaijan first claims the NATO OCC credential, which the partner registry does not
    # record for it: refused, naming the item; then it files without it.
    azerbaijan = next(p for p in PLEDGES if p.country == "AZE")
    claimed = offer_body(story, azerbaijan)
    claimed["items"][0]["credentials"] = ["nato.occ.evaluated"]
    refused = await story.poc["AZE"].post("/api/v1/offers", claimed, expect=422)
    assert "OCC" in refused["errors"]["items.0.credentials"], refused

    for pledge in PLEDGES:
        nation = story.poc[pledge.country]
        body = offer_body(story, pledge)
        if pledge.country == "NLD":
            # The Dutch desk's first POST times out on its side; it retries with the same
            # Idempotency-Key and gets the first answer, not a second offer.
            key = {"Idempotency-Key": "nld-usar-2023-02-06-0001"}
            created = await nation.post("/api/v1/offers", body, headers=key, expect=201)
            again = await nation.post("/api/v1/offers", body, headers=key, expect=201)
            assert again == created
        else:
            created = await nation.post("/api/v1/offers", body, expect=201)
        assert (created["offering_country"], created["channel"]) == (
            pledge.country,
            pledge.channel,
        )
        assert [i["possible_duplicate_of"] for i in created["items"]] == [None] * len(pledge.items)
        assert proposed_by_need(story, created["matches"]) == pledge.proposes, pledge.country
        story.offer[(pledge.country, pledge.channel)] = created

    # Sweden's government also announces the same blankets bilaterally: flagged as a
    # possible duplicate of the EU offer and kept out of matching, so not counted twice.
    sweden = story.offer[("SWE", "eu_ucpm")]
    body = offer_body(story, next(p for p in PLEDGES if p.country == "SWE"))
    body = {**body, "channel": "bilateral", "items": body["items"][1:]}  # the blankets
    again = await story.poc["SWE"].post("/api/v1/offers", body, expect=201)
    assert again["items"][0]["possible_duplicate_of"] == sweden["items"][1]["id"]
    assert again["matches"] == []

    # The heavy teams went to the heavy need (an exact fill before a substitute), so the
    # medium need is planned with the medium teams; each unit is proposed once.
    medium = {m["offering_country"] for m in await proposals(story, "usar.medium")}
    assert medium == {"ROU", "GRC", "UKR", "AZE"}
    # Japan's EMT, available last, gave way to Norway's, which scores clearly better.
    japan = await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
    assert [(m["status"], m["reason"]) for m in japan if m["offering_country"] == "JPN"] == [
        ("superseded", "displaced by a clearly better offer")
    ]
    assert [m["resource_type"] for m in await proposals(story, "medical.emt.type2")].count(
        "medical.emt.type3"
    ) == 1

    await assert_picture(story, AFTER_OFFERS)


async def step3_acceptance(story: Story) -> None:
    # Step 3: Türkiye accepts, best-scored proposal first.
    # Step 8 (authorisation): Greece's POC may not accept its own team for Türkiye.
    greek = next(m for m in await proposals(story, "usar.medium") if m["offering_country"] == "GRC")
    await story.poc["GRC"].post(f"/api/v1/matches/{greek['id']}/accept", expect=403)

    # Every heavy team is taken, the nearest first (Israel, Poland, Germany, the
    # Netherlands, the UK); the US teams, flying across the Atlantic, arrive late and
    # score last.
    for country in ("ISR", "POL", "DEU", "NLD", "GBR", "USA"):
        await accept_best(story, "usar.heavy", country)
    # Three medium teams; Azerbaijan's (no classification claimed) stays proposed.
    for country in ("GRC", "ROU", "UKR"):
        await accept_best(story, "usar.medium", country)
    # Four EMTs (Japan's gave way to Norway's when Norway offered).
    for country in ("ISR", "GBR", "ESP", "NOR"):
        await accept_best(story, "medical.emt.type2", country)
    for country in ("ITA", "FRA"):
        await accept_best(story, "medical.field_hospital", country)
    # Sweden's 4 000 tents score best; Türkiye takes 2 500 now (partial acceptance) and
    # the other 1 500 are proposed again for the rest of the need.
    await accept_best(story, "shelter.tent.winterised", "SWE", quantity=2_500)
    await accept_best(story, "shelter.tent.winterised", "DEU")
    for country in ("FIN", "SWE", "POL"):
        await accept_best(story, "shelter.blanket", country)
    for country in ("FIN", "HUN"):
        await accept_best(story, "shelter.heater", country)
    for country in ("HUN", "ITA"):
        await accept_best(story, "power.generator.medium", country)

    swedish = [
        (m["status"], m["quantity"])
        for m in await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
        if m["need_id"] == story.need["shelter.tent.winterised"] and m["offering_country"] == "SWE"
    ]
    assert sorted(swedish) == [("accepted", 2_500), ("proposed", 1_500)]
    japan = [
        m["status"]
        for m in await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
        if m["offering_country"] == "JPN"
    ]
    assert japan == ["superseded"]
    # An accepted heavy team is no longer proposed for the medium need.
    medium = {m["offering_country"] for m in await proposals(story, "usar.medium")}
    assert medium == {"AZE"}

    await assert_picture(story, AFTER_ACCEPTANCE)


async def step4_amendments(story: Story) -> None:
    # Step 4: Türkiye amends two needs.
    # (a) On day four the search phase winds down: three medium teams are enough.
    # Azerbaijan's still-standing proposal no longer has room and is superseded.
    medium = f"/api/v1/requests/{story.rfa_id}/needs/{story.need['usar.medium']}"
    too_low = await story.tur.call("PATCH", medium, {"quantity": 2}, expect=409)
    assert too_low["accepted"] == 3
    amended = await story.tur.call("PATCH", medium, {"quantity": 3}, expect=200)
    assert (amended["requested"], amended["proposed"], amended["accepted"]) == (3, 0, 3)
    assert (amended["duplicated"], amended["uncovered"], amended["version"]) == (False, False, 2)
    assert [
        m["status"]
        for m in await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
        if m["offering_country"] == "AZE"
    ] == ["superseded"]

    # (b) A cold snap: 2 000 more winterised tents, now critical. The standing proposals
    # already carry all that their offers have left, so only the gap grows (proposals are
    # not cover: 12 000 - 4 500 accepted).
    tents = f"/api/v1/requests/{story.rfa_id}/needs/{story.need['shelter.tent.winterised']}"
    amended = await story.tur.call(
        "PATCH", tents, {"quantity": 12_000, "priority": "critical"}, expect=200
    )
    assert (amended["requested"], amended["priority"]) == (12_000, "critical")
    assert (amended["proposed"], amended["accepted"], amended["uncovered_quantity"]) == (
        4_000,
        4_500,
        7_500,
    )

    await assert_picture(story, AFTER_AMENDMENTS)


async def step5_withdrawal(story: Story) -> None:
    # Step 5: Spain's aircraft is needed elsewhere; its offer (EMT accepted, heaters still
    # proposed) is withdrawn by Spain's own POC.
    spain = story.offer[("ESP", "eu_ucpm")]
    # Step 8 (authorisation): Norway's POC may not withdraw Spain's offer.
    await story.poc["NOR"].post(f"/api/v1/offers/{spain['id']}/withdraw", expect=403)

    withdrawn = await story.poc["ESP"].post(
        f"/api/v1/offers/{spain['id']}/withdraw",
        {"reason": "aircraft reassigned; START to deploy in a later rotation"},
        expect=200,
    )
    assert withdrawn["status"] == "withdrawn"
    assert [(i["status"], i["allocated"]) for i in withdrawn["items"]] == [
        ("withdrawn", 0),
        ("withdrawn", 0),
    ]
    released = await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
    spanish = sorted(
        (m["resource_type"], m["status"]) for m in released if m["offering_country"] == "ESP"
    )
    assert spanish == [("medical.emt.type2", "declined"), ("shelter.heater", "superseded")]
    # The EMT slot Spain gave back is offered to Japan's team, which was waiting.
    assert proposed_by_need(story, await proposals(story, "medical.emt.type2")) == {
        "medical.emt.type2": 1
    }
    await assert_picture(story, AFTER_WITHDRAWAL)
    await accept_best(story, "medical.emt.type2", "JPN")
    await story.poc["ESP"].post(f"/api/v1/offers/{spain['id']}/withdraw", expect=409)


async def step6_dispatch_and_delivery(story: Story) -> None:
    # Step 6: the offering POCs dispatch; Türkiye records arrivals.
    async def dispatch(country: str, need: str, quantity: int, eta: str) -> dict[str, Any]:
        match_id = story.accepted[(country, need)]
        return await story.poc[country].post(
            f"/api/v1/matches/{match_id}/dispatch",
            {"quantity": quantity, "eta": eta},
            expect=200,
        )

    async def deliver(country: str, need: str, quantity: int, expect: int = 200) -> Any:
        match_id = story.accepted[(country, need)]
        return await story.tur.post(
            f"/api/v1/matches/{match_id}/deliver", {"quantity": quantity}, expect=expect
        )

    # Step 8 (authorisation): Türkiye may record arrival but not dispatch Sweden's tents.
    sweden_tents = story.accepted[("SWE", "shelter.tent.winterised")]
    await story.tur.post(f"/api/v1/matches/{sweden_tents}/dispatch", {"quantity": 10}, expect=403)

    for country, quantity in (("USA", 2), ("NLD", 1)):
        moving = await dispatch(country, "usar.heavy", quantity, at(8, 9))
        assert (moving["status"], moving["dispatched"]) == ("in_transit", quantity)
        arrived = await deliver(country, "usar.heavy", quantity)
        assert (arrived["status"], arrived["delivered"]) == ("delivered", quantity)

    # Sweden flies 1 500 of its 2 500 accepted tents; 1 000 have arrived so far.
    moving = await dispatch("SWE", "shelter.tent.winterised", 1_500, at(8, 18))
    assert (moving["status"], moving["dispatched"], moving["delivered"]) == (
        "in_transit",
        1_500,
        0,
    )
    partial = await deliver("SWE", "shelter.tent.winterised", 1_000)
    assert (partial["status"], partial["dispatched"], partial["delivered"]) == (
        "in_transit",
        1_500,
        1_000,
    )
    too_many = await deliver("SWE", "shelter.tent.winterised", 1_501, expect=409)
    assert too_many["current_status"] == "in_transit"

    await dispatch("DEU", "shelter.tent.winterised", 2_000, at(8, 14))
    await deliver("DEU", "shelter.tent.winterised", 2_000)
    await dispatch("ITA", "medical.field_hospital", 1, at(9, 6))
    await deliver("ITA", "medical.field_hospital", 1)
    await dispatch("SWE", "shelter.blanket", 15_000, at(8, 20))
    # Hungary's generators came by road and nobody recorded the dispatch: arrival proves it.
    trucked = await deliver("HUN", "power.generator.medium", 30)
    assert (trucked["status"], trucked["dispatched"], trucked["delivered"]) == (
        "delivered",
        30,
        30,
    )

    # Sweden's offer as Sweden sees it: what of each item is allocated.
    sweden = await story.poc["SWE"].get(f"/api/v1/offers/{story.offer[('SWE', 'eu_ucpm')]['id']}")
    assert [(i["resource_type"], i["quantity"], i["allocated"]) for i in sweden["items"]] == [
        ("shelter.tent.winterised", 4_000, 2_500),
        ("shelter.blanket", 15_000, 15_000),
    ]

    await assert_picture(story, FINAL_PICTURE)


# What each nation offered, per channel and type, and what became of it:
# (country, channel, resource type): (offered, accepted, in transit, delivered, withdrawn)
# fmt: off
OFFERS_BY_NATION: dict[tuple[str, str, str], tuple[int, int, int, int, int]] = {
    # country, channel, resource type:                offered  acc.    moving  deliv.  withdrawn
    ("AZE", "bilateral", "usar.medium"):               (1,      0,      0,      0,      0),
    ("DEU", "eu_ucpm", "shelter.tent.winterised"):     (2_000,  2_000,  0,      2_000,  0),
    ("DEU", "eu_ucpm", "usar.heavy"):                  (1,      1,      0,      0,      0),
    ("ESP", "eu_ucpm", "medical.emt.type2"):           (1,      0,      0,      0,      1),
    ("ESP", "eu_ucpm", "shelter.heater"):              (600,    0,      0,      0,      600),
    ("FIN", "eu_ucpm", "shelter.blanket.thermal"):     (8_000,  8_000,  0,      0,      0),
    ("FIN", "eu_ucpm", "shelter.heater"):              (1_500,  1_500,  0,      0,      0),
    ("FIN", "eu_ucpm", "shelter.tent.winterised"):     (1_500,  0,      0,      0,      0),
    ("FRA", "eu_ucpm", "medical.field_hospital"):      (1,      1,      0,      0,      0),
    ("FRA", "eu_ucpm", "power.generator.large"):       (4,      0,      0,      0,      0),
    ("GBR", "bilateral", "medical.emt.type2"):         (1,      1,      0,      0,      0),
    ("GBR", "bilateral", "usar.heavy"):                (1,      1,      0,      0,      0),
    ("GRC", "eu_ucpm", "shelter.blanket"):             (3_000,  0,      0,      0,      0),
    ("GRC", "eu_ucpm", "usar.medium"):                 (1,      1,      0,      0,      0),
    ("HUN", "eu_ucpm", "power.generator.medium"):      (30,     30,     0,      30,     0),
    ("HUN", "eu_ucpm", "shelter.heater"):              (1_000,  1_000,  0,      0,      0),
    ("ISR", "bilateral", "medical.emt.type3"):         (1,      1,      0,      0,      0),
    ("ISR", "bilateral", "usar.heavy"):                (1,      1,      0,      0,      0),
    ("ITA", "eu_ucpm", "medical.field_hospital"):      (1,      1,      0,      1,      0),
    ("ITA", "eu_ucpm", "power.generator.medium"):      (25,     25,     0,      0,      0),
    ("JPN", "bilateral", "medical.emt.type2"):         (1,      1,      0,      0,      0),
    ("NLD", "direct", "shelter.blanket"):              (5_000,  0,      0,      0,      0),
    ("NLD", "direct", "usar.heavy"):                   (1,      1,      0,      1,      0),
    ("NOR", "direct", "medical.emt.type2"):            (1,      1,      0,      0,      0),
    ("NOR", "direct", "power.generator.medium"):       (20,     0,      0,      0,      0),
    ("NOR", "un", "shelter.tent.winterised"):          (1_000,  0,      0,      0,      0),
    ("POL", "eu_ucpm", "shelter.blanket"):             (10_000, 10_000, 0,      0,      0),
    ("POL", "eu_ucpm", "usar.heavy"):                  (1,      1,      0,      0,      0),
    ("ROU", "eu_ucpm", "shelter.heater"):              (500,    0,      0,      0,      0),
    ("ROU", "eu_ucpm", "usar.medium"):                 (1,      1,      0,      0,      0),
    ("SWE", "bilateral", "shelter.blanket"):           (15_000, 0,      0,      0,      0),  # again
    ("SWE", "eu_ucpm", "shelter.blanket"):             (15_000, 15_000, 15_000, 0,      0),
    ("SWE", "eu_ucpm", "shelter.tent.winterised"):     (4_000,  2_500,  500,    1_000,  0),
    ("UKR", "direct", "usar.medium"):                  (1,      1,      0,      0,      0),
    ("USA", "bilateral", "usar.heavy"):                (2,      2,      0,      2,      0),
}
# fmt: on


async def step7_sitrep(story: Story, before: dict[str, Any]) -> None:
    # Step 7: the situation report.
    report = await sitrep(story)
    assert report["emergency"]["id"] == story.emergency_id and report["exercise"] is False
    assert report["summary"] == {
        "requests": 1,
        "needs": 8,
        "needs_fully_accepted": 3,  # medium USAR, EMT Type 2, field hospitals
        "needs_uncovered": 5,
        "needs_late": 8,  # the story is of February 2023: every deadline has passed
        "needs_at_risk": 1,
        # Help still on offer: open offers with units nobody accepted (Netherlands,
        # Romania, Greece, Azerbaijan, Norway twice, France, Sweden, Finland); Spain's is
        # withdrawn, Sweden's second announcement holds nothing of its own, and nations
        # whose help was all accepted have nothing left on offer.
        "offers": 9,
        "offering_nations": 8,
        "accepted_lines": 24,
        "delivered_lines": 5,
    }
    # The report's numbers per need are the same as the request's.
    assert {
        n["resource_type"]: tuple(n[f] for f in FIELDS) for n in report["needs"]
    } == FINAL_PICTURE
    # Outstanding: critical first (the amended tents before the last heavy team), then by gap.
    assert [(n["resource_type"], n["uncovered_quantity"]) for n in report["outstanding"]] == [
        ("shelter.tent.winterised", 7_500),
        ("usar.heavy", 1),
        ("shelter.blanket", 17_000),
        ("shelter.heater", 2_500),
        ("power.generator.medium", 45),
    ]
    # The same help through two channels, listed as a pair.
    sweden = story.offer[("SWE", "eu_ucpm")]["items"][1]["id"]
    assert [
        (d["offering_country"], d["channel"], d["item_id"], d["duplicate_channel"])
        for d in report["duplicates"]
    ] == [("SWE", "eu_ucpm", sweden, "bilateral")]
    supply = {r["resource_type"]: (r["requested"], r["offered"]) for r in report["supply_by_type"]}
    assert supply["shelter.blanket"] == (50_000, 33_000)  # the bilateral copy not counted
    rows = {
        (r["country"], r["channel"], r["resource_type"]): (
            r["offered"],
            r["accepted"],
            r["in_transit"],
            r["delivered"],
            r["withdrawn"],
        )
        for r in report["offers_by_nation"]
    }
    assert rows == OFFERS_BY_NATION
    assert [
        (r["country"], r["channel"], r["resource_type"]) for r in report["offers_by_nation"]
    ] == sorted(OFFERS_BY_NATION)

    # The same report as Markdown, for the EADRCC's situation-report e-mail.
    path = f"/api/v1/emergencies/{story.emergency_id}/sitrep"
    md = await story.client.get(
        path, headers={**bearer(story.officer.token), "Accept": "text/markdown"}
    )
    assert md.status == 200 and md.content_type == "text/markdown"
    text = await md.text()
    lines = text.splitlines()
    assert "# Situation report: Kahramanmaraş earthquakes" in lines
    assert (
        "1 request(s) with 8 need(s): 3 fully accepted, 5 not yet covered, 8 late, 1 at risk. "
        "9 offer(s) still on offer from 8 nation(s); 24 accepted line(s), 5 delivered."
    ) in lines
    needed_by = "2023-02-09T09:00Z"
    assert (
        "TUR | shelter.tent.winterised | critical | 12000 | 4000 | 1000 | 500 | 3000 | 7500 | "
        f"{needed_by} | 2023-02-08T15:00Z | LATE UNCOVERED"
    ) in lines
    for line in (
        "TUR | usar.heavy | critical | 8 | 0 | 4 | 0 | 3 | 1 | 2023-02-07T09:00Z |",
        "SWE | eu_ucpm | shelter.tent.winterised | 4000 | 2500 | 500 | 1000 | 0",
        "ESP | eu_ucpm | medical.emt.type2 | 1 | 0 | 0 | 0 | 1",
        "NOR | un | shelter.tent.winterised | 1000 | 0 | 0 | 0 | 0",
        "USA | bilateral | usar.heavy | 2 | 2 | 0 | 2 | 0",
    ):
        assert any(ln.startswith(line) for ln in lines), line
    outstanding = text.split("## Outstanding needs")[1].split("##")[0]
    assert outstanding.index("shelter.tent.winterised") < outstanding.index("usar.heavy")

    # as_of a moment before the first acceptance: the earlier picture, rebuilt from events.
    assert before["summary"] == {
        "requests": 1,
        "needs": 8,
        "needs_fully_accepted": 0,
        "needs_uncovered": 8,  # proposals are not cover
        "needs_late": 8,
        "needs_at_risk": 8,  # nothing accepted, every deadline past
        "offers": 19,  # Sweden's second announcement of its blankets holds nothing new
        "offering_nations": 18,
        "accepted_lines": 0,
        "delivered_lines": 0,
    }
    assert [n["resource_type"] for n in before["outstanding"]] == [
        "usar.heavy",
        "usar.medium",
        "medical.emt.type2",
        "shelter.blanket",
        "shelter.tent.winterised",
        "medical.field_hospital",
        "shelter.heater",
        "power.generator.medium",
    ]
    moment = datetime.fromisoformat(before["as_of"]) + timedelta(microseconds=1)
    then = await sitrep(story, "?as_of=" + moment.isoformat().replace("+", "%2B"))
    assert then["last_seq"] == before["last_seq"]
    assert then["summary"] == before["summary"]
    assert then["needs"] == before["needs"]
    assert then["offers_by_nation"] == before["offers_by_nation"]
    assert {
        n["resource_type"]: (n["requested"], n["proposed"], n["accepted"]) for n in then["needs"]
    } == {
        "usar.heavy": (8, 7, 0),
        "usar.medium": (4, 4, 0),
        "medical.emt.type2": (4, 4, 0),
        "medical.field_hospital": (2, 2, 0),
        "shelter.tent.winterised": (10_000, 8_500, 0),
        "shelter.blanket": (50_000, 41_000, 0),
        "shelter.heater": (5_000, 3_600, 0),
        "power.generator.medium": (100, 75, 0),
    }
    assert all(r["accepted"] == 0 for r in then["offers_by_nation"])


async def step9_a_declined_offer_stays_declined(story: Story) -> None:
    # Step 9, epilogue (day 5): Türkiye declines Greece's blankets (it now wants only
    # high-thermal ones at Adıyaman) and takes the Netherlands' 5 000 instead. The
    # declined offer must not be proposed again for that need, and proposals never
    # count as cover: 17 000 blankets are missing, 12 000 once the Dutch ones are taken.
    greek = next(
        m for m in await proposals(story, "shelter.blanket") if m["offering_country"] == "GRC"
    )
    declined = await story.tur.post(
        f"/api/v1/matches/{greek['id']}/decline",
        {"reason": "only high-thermal blankets now; Greek stock better used in Hatay"},
        expect=200,
    )
    assert declined["status"] == "declined"
    blankets = (50_000, 5_000, 18_000, 15_000, 0, 17_000, True, True)
    assert (await picture(story))["shelter.blanket"] == blankets

    await accept_best(story, "shelter.blanket", "NLD")
    greek_lines = [
        m["status"]
        for m in await story.tur.get(f"/api/v1/emergencies/{story.emergency_id}/matches")
        if m["offering_country"] == "GRC" and m["need_id"] == story.need["shelter.blanket"]
    ]
    assert greek_lines == ["declined"], greek_lines
    blankets = (50_000, 0, 23_000, 15_000, 0, 12_000, True, True)
    assert (await picture(story))["shelter.blanket"] == blankets
