"""`eadrcc tail`: follow the event stream from a terminal or a script.

The reference client for integrators: says hello with the last seq it saw,
prints events (JSON lines or one readable line each), and after any disconnect
reconnects with backoff and resumes from that seq — nothing missed, nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

FATAL_CODES = {4000: "the server did not accept our hello", 4001: "unauthorized"}


@dataclass
class Tail:
    url: str
    token: str
    since: int | None = None
    emergency: str | None = None
    kinds: tuple[str, ...] = ()
    as_json: bool = False
    count: int | None = None  # stop after printing this many events (scripts)
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    printed: int = 0

    def wanted(self, event: dict[str, Any]) -> bool:
        if self.emergency and event.get("emergency_id") != self.emergency:
            return False
        return not self.kinds or any(event["kind"].startswith(k) for k in self.kinds)

    async def run(self, *, stop: Callable[[], bool] = lambda: False) -> int:
        def done() -> bool:
            return stop() or (self.count is not None and self.printed >= self.count)

        return await self._run(done)

    async def _run(self, stop: Callable[[], bool]) -> int:
        backoff = 0.5
        while not stop():
            try:
                await self._session(stop)
                backoff = 0.5
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code in FATAL_CODES:
                    print(
                        f"eadrcc tail: {FATAL_CODES[code]}: {closed.rcvd.reason}",  # type: ignore[union-attr]
                        file=self.err,
                    )
                    return 2
                print(
                    f"eadrcc tail: disconnected ({code}); resuming after {self.since}",
                    file=self.err,
                )
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                print(f"eadrcc tail: cannot reach {self.url} ({exc}); retrying", file=self.err)
            except InvalidURI as exc:
                print(f"eadrcc tail: {exc}", file=self.err)
                return 2
            if stop():
                break
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 30)
        return 0

    async def _session(self, stop: Callable[[], bool]) -> None:
        async with connect(websocket_url(self.url), open_timeout=10, compression=None) as ws:
            hello: dict[str, Any] = {"type": "hello", "token": self.token}
            if self.since is not None:
                hello["since"] = self.since
            await ws.send(json.dumps(hello))
            async for raw in ws:
                message = json.loads(raw)
                self._handle(message)
                if stop():
                    return

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "welcome":
            if self.since is None:
                self.since = message["head"]
        elif kind == "resync":
            print(
                f"eadrcc tail: position {self.since} is too old; resyncing at "
                f"{message['head']} (events in between are not shown)",
                file=self.err,
            )
            self.since = message["head"]
        elif kind == "event":
            self.since = message["seq"]
            if self.wanted(message):
                self.printed += 1
                self.out.write(
                    (json.dumps(message, ensure_ascii=False) if self.as_json else one_line(message))
                    + "\n"
                )
                self.out.flush()


def websocket_url(url: str) -> str:
    base = url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[4:]
    return base if base.endswith("/ws") else base + "/ws"


def one_line(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    return (
        f"{event['at'][:19]}Z #{event['seq']:<7} {event['kind']:<19} "
        f"{event.get('emergency_id') or '-':<28} {summary(event['kind'], data)}"
    )


def _match_quantity(kind: str, d: dict[str, Any]) -> str:
    """The part the event is about: what moves or arrived, not the whole match."""
    quantity = d.get("quantity")
    if kind == "match.delivered":
        return f"{d.get('delivered')}/{quantity} delivered"
    if kind == "match.dispatched":
        return f"{d.get('dispatched')}/{quantity} dispatched"
    return str(quantity)


def summary(kind: str, d: dict[str, Any]) -> str:
    """A few words a duty officer can read at a glance."""
    if kind.startswith("match."):
        return (
            f"{d.get('offering_country')}→{d.get('requesting_country')} "
            f"{d.get('resource_type')} x{_match_quantity(kind, d)} {d.get('status')}"
        )
    if kind.startswith("offer."):
        return (
            f"{d.get('offering_country')} via {d.get('channel')}: "
            f"{len(d.get('items', []))} item(s) [{d.get('status')}]"
        )
    if kind.startswith("need."):
        return (
            f"{d.get('resource_type')}: requested {d.get('requested')}, "
            f"accepted {d.get('accepted')}, delivered {d.get('delivered')}"
        )
    if kind.startswith("request."):
        return f"{d.get('requesting_country')} asks for {len(d.get('needs', []))} need(s)"
    if kind.startswith("emergency."):
        return f"{d.get('title')} [{d.get('status')}]"
    if kind.startswith("partner."):
        return f"{d.get('code')} {d.get('name')}"
    return json.dumps(d, ensure_ascii=False)[:120]
