"""The subscriptions API: who may subscribe to whose view, and bad input refused
with a 422 naming the field — webhook targets inside the hub's network included
(the SSRF matrix), checked against real name resolution where it can be."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.app import create_app
from eadrcc.appkeys import WEBHOOK_GUARD
from eadrcc.config import Settings
from eadrcc.subscriptions.outbound import Guard
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api

Client = TestClient  # type: ignore[type-arg]
PUBLIC = "93.184.215.14"  # a public address (example.com once); never connected to


async def fake_lookup(host: str, port: int) -> list[str]:
    """The outside world's DNS, as the tests need it."""
    names = {
        "intranet.example": ["10.1.2.3"],
        "metadata.example": ["169.254.169.254"],
        "mixed.example": [PUBLIC, "192.168.1.1"],
        "receiver.example": [PUBLIC],
        "v6only.example": ["fd00::1"],
    }
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    if host not in names:
        raise OSError("no such name")
    return names[host]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, pool_min_size=1, pool_max_size=10)


@pytest.fixture
async def client(settings: Settings) -> Any:
    app = create_app(settings)
    app[WEBHOOK_GUARD] = Guard(["allowed.internal"], lookup=fake_lookup)
    async with TestClient(TestServer(app)) as c:
        yield c


def webhook(url: str, **over: Any) -> dict[str, Any]:
    return {"country": "NOR", "kind": "webhook", "url": url, **over}


async def test_poc_subscribes_its_own_country_and_sees_the_secret_once(
    client: Client, make_token: TokenFactory
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    made = await nor.post(
        "/api/v1/subscriptions", webhook("https://receiver.example/x"), expect=201
    )
    assert made["country"] == "NOR" and made["audience"] == "poc"
    assert len(made["secret"]) >= 40 and made["status"] == "active"
    listed = await nor.get("/api/v1/subscriptions")
    assert [s["id"] for s in listed] == [made["id"]]
    assert "secret" not in listed[0]
    mail = await nor.post(
        "/api/v1/subscriptions",
        {"kind": "email", "address": "desk@mfa.example.no", "language": "fr"},
        expect=201,
    )
    assert mail["country"] == "NOR" and mail["secret"] is None and mail["language"] == "fr"
    assert await nor.call("DELETE", f"/api/v1/subscriptions/{mail['id']}", expect=204) is None
    assert [s["id"] for s in await nor.get("/api/v1/subscriptions")] == [made["id"]]


async def test_who_may_subscribe_to_what(client: Client, make_token: TokenFactory) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    officer = await api(client, make_token, "duty_officer")
    observer = await api(client, make_token, "observer")
    integration = await api(client, make_token, "integration")
    url = "https://receiver.example/x"
    # Another nation's view: 403, and nothing made.
    await deu.post("/api/v1/subscriptions", webhook(url), expect=403)
    await deu.call("GET", "/api/v1/subscriptions?country=NOR", expect=403)
    await observer.post("/api/v1/subscriptions", webhook(url), expect=403)
    await integration.post("/api/v1/subscriptions", webhook(url), expect=403)
    assert await officer.get("/api/v1/subscriptions") == []
    # Staff: any nation's view, or the staff view without a country.
    staff = await officer.post("/api/v1/subscriptions", webhook(url, country=None), expect=201)
    assert staff["audience"] == "staff" and staff["country"] is None
    nors = await officer.post("/api/v1/subscriptions", webhook(url), expect=201)
    own = await integration.post("/api/v1/subscriptions", webhook(url, country=None), expect=201)
    assert own["audience"] == "integration"
    # Each sees its own: a POC its country's, an integration only what it made.
    assert [s["id"] for s in await nor.get("/api/v1/subscriptions")] == [nors["id"]]
    assert [s["id"] for s in await integration.get("/api/v1/subscriptions")] == [own["id"]]
    assert await deu.get("/api/v1/subscriptions") == []
    await integration.get(f"/api/v1/subscriptions/{own['id']}/deliveries")
    for other in (staff, nors):
        await integration.get(f"/api/v1/subscriptions/{other['id']}/deliveries", expect=404)
        await deu.call("DELETE", f"/api/v1/subscriptions/{other['id']}", expect=403)
    await observer.get(f"/api/v1/subscriptions/{nors['id']}/deliveries", expect=403)
    assert len(await officer.get("/api/v1/subscriptions")) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook"}, "url"),
        ({"kind": "webhook", "url": "ftp://receiver.example/x"}, "url"),
        ({"kind": "webhook", "url": "not a url"}, "url"),
        ({"kind": "webhook", "url": "https://user:pw@receiver.example/"}, "url"),
        ({"kind": "webhook", "url": "https://receiver.example:99999/"}, "url"),
        ({"kind": "webhook", "url": "https://nowhere.example/"}, "url"),
        ({"kind": "webhook", "url": "https://receiver.example/", "address": "a@b.org"}, "address"),
        ({"kind": "email"}, "address"),
        ({"kind": "email", "address": "no-at-sign"}, "address"),
        ({"kind": "email", "address": "a@b.org\r\nBcc: x@y.org"}, "address"),
        ({"kind": "email", "address": "a@b.org", "url": "https://receiver.example/"}, "url"),
        ({"kind": "pigeon", "address": "a@b.org"}, "kind"),
        ({"kind": "email", "address": "a@b.org", "language": "de"}, "language"),
        ({"kind": "email", "address": "a@b.org", "events": ["Request%"]}, "events.0"),
        ({"kind": "email", "address": "a@b.org", "country": "XXX"}, "country"),
        ({"kind": "email", "address": "a@b.org", "country": "nor"}, "country"),
        ({"kind": "email", "address": "a@b.org", "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: Client, make_token: TokenFactory, body: dict[str, Any], field: str
) -> None:
    officer = await api(client, make_token, "duty_officer")
    problem = await officer.post("/api/v1/subscriptions", body, expect=422)
    assert field in problem["errors"], problem
    assert await officer.get("/api/v1/subscriptions") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://[fd00::1]/hook",
        "http://localhost:8080/hook",  # a name resolving to loopback
        "http://intranet.example/hook",  # a name resolving to a private address
        "http://metadata.example/hook",  # ... to the metadata service
        "http://mixed.example/hook",  # one public and one private address
        "http://v6only.example/hook",
    ],
)
async def test_ssrf_targets_are_refused(client: Client, make_token: TokenFactory, url: str) -> None:
    officer = await api(client, make_token, "duty_officer")
    problem = await officer.post("/api/v1/subscriptions", webhook(url), expect=422)
    assert "url" in problem["errors"], problem
    assert await officer.get("/api/v1/subscriptions") == []


async def test_allowlisted_host_passes_but_link_local_never(
    db_url: str, make_token: TokenFactory
) -> None:
    settings = Settings(database_url=db_url, webhook_allow_hosts="127.0.0.1, metadata.example")
    app = create_app(settings)
    assert app[WEBHOOK_GUARD].allow_hosts == {"127.0.0.1", "metadata.example"}
    app[WEBHOOK_GUARD].lookup = fake_lookup
    async with TestClient(TestServer(app)) as c:
        officer: Api = await api(c, make_token, "duty_officer")
        await officer.post("/api/v1/subscriptions", webhook("http://127.0.0.1:9/h"), expect=201)
        await officer.post("/api/v1/subscriptions", webhook("http://10.0.0.1/h"), expect=422)
        problem = await officer.post(
            "/api/v1/subscriptions", webhook("http://metadata.example/h"), expect=422
        )
        assert "link-local" in problem["errors"]["url"]


async def test_channels_show_who_has_a_working_one(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    nor = await api(client, make_token, "poc", "NOR")
    await nor.post("/api/v1/subscriptions", webhook("https://receiver.example/x"), expect=201)
    channels = {c["country"]: c for c in await officer.get("/api/v1/channels")}
    assert channels["NOR"]["subscriptions"] == 1 and channels["NOR"]["working"] is False
    assert channels["DEU"]["subscriptions"] == 0
    assert [c["country"] for c in await nor.get("/api/v1/channels")] == ["NOR"]
    integration = await api(client, make_token, "integration")
    await integration.get("/api/v1/channels", expect=403)
