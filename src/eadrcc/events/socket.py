"""GET /ws: the event stream over a websocket (protocol in docs/api.md).

hello {token, since?} → welcome {head} → the backlog after `since` read from the
log up to the hub position taken at subscribe, then live events from the hub's
queue: one ordered stream, no gap, no repeat. A `since` the log can no longer
serve gets {"type": "resync"} (then live events), never silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from eadrcc import auth
from eadrcc.appkeys import (
    HUB,
    LIVE_SOCKETS,
    POOL,
    RECEIPTS,
    SETTINGS,
    SOCKETS,
    TOKEN_SOCKETS,
    TOKENS,
)
from eadrcc.errors import BadRequest, EadrccError
from eadrcc.events import log as events
from eadrcc.events.fanout import event_message
from eadrcc.events.lean import (
    GOING_AWAY,
    HandedOver,
    LeanSocket,
    ShadowedWebSocket,
    hand_over,
)
from eadrcc.policy import audience as audience_of
from eadrcc.web import Routes, loads

log = structlog.get_logger(__name__)
routes = Routes("events")

# Close codes (4000-4999 are the application's own).
BAD_HELLO, UNAUTHORIZED = 4000, 4001  # and 4008, too slow: lean.TOO_SLOW
BACKLOG_PAGE = 500
# How long a resuming console waits for this instance to read up to its position
# (another instance served it further); beyond that it gets resync, as any client
# whose position this log cannot serve.
CATCH_UP_SECONDS = 5.0


def _reason(text: str) -> bytes:
    """A close reason fits in 123 bytes of UTF-8 (RFC 6455 §5.5), cut on a character."""
    return text.encode()[:123].decode("utf-8", errors="ignore").encode()


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@routes.get(
    "/ws",
    summary="Websocket event stream: hello → welcome → events (docs/api.md)",
    auth=False,
    in_spec=True,
)
async def websocket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    # No permessage-deflate: a zlib context per socket costs far more memory than
    # small JSON events save, and thousands of consoles stay connected all shift.
    # Shadowed: once live, a LeanSocket reads on from where aiohttp's reader stands.
    ws = ShadowedWebSocket(
        heartbeat=settings.ws_ping_seconds, max_msg_size=64 * 1024, compress=False
    )
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    try:
        who, since = await _hello(request, ws)
    except Refused as refused:
        await ws.close(code=refused.code, message=_reason(refused.reason))
        return ws
    # Known by token before the re-check below: a revocation that commits after the
    # check is read by the hub after this line, so it finds and closes this socket.
    by_token = request.app[TOKEN_SOCKETS]
    by_token.add(who.token_id, ws)
    try:
        return await _stream(request, ws, who, since)
    finally:
        by_token.discard(who.token_id, ws)


async def _stream(
    request: web.Request, ws: ShadowedWebSocket, who: auth.Principal, since: int | None
) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    hub = request.app[HUB]
    async with request.app[POOL].acquire() as conn:
        if not await auth.active(conn=conn, token_id=who.token_id):
            await ws.close(code=UNAUTHORIZED, message=b"unknown or revoked token")
            return ws
        # Each instance reads the log on its own: a console that moves here from
        # another may be ahead of this one's reading. If the log has its position,
        # wait for this hub to catch up rather than tell the console to resync.
        ahead = since is not None and since > hub.last_seq and since <= await events.head(conn)
    if ahead and since is not None:
        await hub.reach(since, CATCH_UP_SECONDS)
    audience = audience_of(who)
    sub, head = hub.subscribe(audience, settings.ws_queue_bound)
    log.info("socket_open", who=who.actor, since=since, head=head)
    handed_over = False
    try:
        await ws.send_json({"type": "welcome", "head": head})
        if since is not None:
            sent = request.app[RECEIPTS].for_socket(who) if RECEIPTS in request.app else None
            await _backlog(request, ws, since, head, audience, sent)
        # From here the hub writes events straight to the socket (events/fanout.py)
        # and a LeanSocket answers the client (events/lean.py): aiohttp's objects for
        # this connection, and this task, are let go.
        by_token = request.app[TOKEN_SOCKETS]
        by_token.discard(who.token_id, ws)
        revoked = by_token.revoking(ws)  # its close is on the way, to this ws
        lean = None
        if not revoked:
            lean = hand_over(request, ws, request.app[LIVE_SOCKETS], hub, sub, who.token_id)
        if lean is not None:
            handed_over = True
            request.app[SOCKETS].discard(ws)
            return HandedOver()
        reader = ws._reader
        if not (revoked or ws.closed) and reader is not None and reader.exception() is None:
            # Not closing, reader not failed: it stalled, on more than a client may
            # send before its welcome (or the connection is gone: this is a no-op).
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too much sent")
        await _drain_incoming(ws)  # closing, or aiohttp's reader failed: it says why
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if not handed_over:
            hub.unsubscribe(sub)
    return ws


async def _hello(
    request: web.Request, ws: web.WebSocketResponse
) -> tuple[auth.Principal, int | None]:
    timeout = request.app[SETTINGS].ws_hello_timeout_seconds
    try:
        msg = await ws.receive(timeout=timeout)
    except TimeoutError:
        raise Refused(BAD_HELLO, "no hello in time") from None
    if msg.type != WSMsgType.TEXT:
        raise Refused(BAD_HELLO, "expected a hello message")
    try:
        # The body parser's rules: no NaN, no 5,000-digit numbers, no stack-deep
        # nesting, no NUL or lone surrogate (which no token hash could encode).
        hello: Any = loads(msg.data)
    except BadRequest as exc:
        raise Refused(BAD_HELLO, f"hello is not usable JSON: {exc.detail}") from None
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        raise Refused(BAD_HELLO, 'first message must be {"type": "hello", ...}')
    since = hello.get("since")
    if since is not None and (
        not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63
    ):
        raise Refused(BAD_HELLO, "since must be a non-negative integer (a seq)")
    token = hello.get("token")
    if not isinstance(token, str) or not token:
        raise Refused(UNAUTHORIZED, "hello needs a token (a string)")
    try:
        return await request.app[TOKENS].principal(request.app[POOL], token), since
    except EadrccError:
        raise Refused(UNAUTHORIZED, "unknown or revoked token") from None


async def _backlog(
    request: web.Request,
    ws: web.WebSocketResponse,
    since: int,
    head: int,
    audience: list[str] | None,
    sent: Callable[[Any], None] | None = None,
) -> None:
    retention = timedelta(days=request.app[SETTINGS].event_retention_days)
    async with request.app[POOL].acquire() as conn:
        if not await events.resumable(conn, since=since, head=head, retention=retention):
            await ws.send_json({"type": "resync", "head": head})
            return
    position = since
    while position < head:
        async with request.app[POOL].acquire() as conn:
            rows = await events.read_between(
                conn, since=position, until=head, audience=audience, limit=BACKLOG_PAGE
            )
        for row in rows:
            await ws.send_str(event_message(row))
            if sent is not None:  # a POC console: circulation counts receipts
                sent(row)
        if len(rows) < BACKLOG_PAGE:
            return
        position = rows[-1]["seq"]


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Clients only say hello; anything else is read and dropped until they close."""
    async for _msg in ws:
        pass


class TokenSockets:
    """This instance's open sockets by token id. The hub hands it every token event
    (EventHub.on_token): a revoked token's sockets are closed with 4001, on every
    instance, as soon as its hub reads the event (milliseconds after the commit)."""

    def __init__(self) -> None:
        # An aiohttp websocket until it is live, then its LeanSocket.
        self._open: dict[str, set[web.WebSocketResponse | LeanSocket]] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        # Revoked while aiohttp still had them: their close task may not have run
        # yet, so they must not be handed over (the task would miss the LeanSocket).
        self._revoking: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def add(self, token_id: str, ws: web.WebSocketResponse | LeanSocket) -> None:
        self._open.setdefault(token_id, set()).add(ws)

    def discard(self, token_id: str, ws: web.WebSocketResponse | LeanSocket) -> None:
        sockets = self._open.get(token_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._open[token_id]

    def revoking(self, ws: web.WebSocketResponse) -> bool:
        return ws in self._revoking

    def act(self, kind: str, data: dict[str, Any]) -> None:
        if kind != auth.TOKEN_REVOKED:
            return
        for ws in list(self._open.get(str(data.get("token_id")), ())):
            log.info("socket_revoked", token_id=data.get("token_id"))
            if isinstance(ws, web.WebSocketResponse):
                self._revoking.add(ws)
            task = asyncio.get_running_loop().create_task(
                ws.close(code=UNAUTHORIZED, message=b"token revoked")
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


async def close_all(app: web.Application) -> None:
    """On shutdown: let queued events go out briefly, then close with GOING_AWAY
    (live sockets, then any still saying hello or reading their backlog)."""
    tracked = app[SOCKETS]
    sockets = list(tracked)
    live = app[LIVE_SOCKETS]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (live or any(not ws.closed for ws in sockets)) and _queued(app):
                await asyncio.sleep(0.05)
    await live.close_all(GOING_AWAY, b"server shutting down")
    # Those not handed over (ws.close does nothing to those that were). aiohttp
    # drops what clients send once shutdown began, echoes included: a close waits
    # for nothing, so all at once and briefly (a timeout closes the connection).
    closes = [ws.close(code=GOING_AWAY, message=b"server shutting down") for ws in sockets]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            await asyncio.gather(*closes, return_exceptions=True)


def _queued(app: web.Application) -> bool:
    return any(sub.pending for sub in app[HUB].subscribers)
