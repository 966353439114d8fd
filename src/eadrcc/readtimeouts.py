"""Read deadlines: a client trickling a request head or body cannot hold a connection.

aiohttp waits for a request head as long as bytes keep coming, and for a body as
long as the handler waits. Its keep-alive timeout only closes a connection that
sends nothing at all. So every connection of the hub is served by
`TimedRequestHandler`, which adds two deadlines:

- **head**: from the connection's start, or from the first byte of a later
  request, the whole head (request line and headers) must arrive within
  `header_timeout`; else the client gets a 408 (if it sent anything) and the
  connection is closed.
- **body**: from the end of the head, the whole body must arrive within
  `body_timeout`; else the handler's read fails with `BodyTimeout` (web.py
  answers 408 problem+json) and the connection closes after that answer.

A connection upgraded to a websocket has no more HTTP heads or bodies: neither
deadline applies to it (the socket's own hello timeout and pings do).

`HubRunner` is the AppRunner that serves the app with it: `eadrcc serve` (one
process or `--workers N`) and the tests' servers use it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from aiohttp import web
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler

from eadrcc.appkeys import SETTINGS
from eadrcc.errors import RequestTimeout

log = structlog.get_logger(__name__)


class BodyTimeout(TimeoutError):
    """The body did not arrive in time. A TimeoutError, so that aiohttp's own
    draining of an unread body stops quietly on it."""


def _head_timeout_response() -> bytes:
    problem = RequestTimeout("the request head did not arrive in time").problem()
    body = json.dumps(problem).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "Content-Type: application/problem+json\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


HEAD_TIMEOUT_RESPONSE = _head_timeout_response()


class TimedRequestHandler(RequestHandler):
    """aiohttp's protocol for one connection, with the head and body deadlines."""

    def __init__(
        self, manager: web.Server, *, header_timeout: float, body_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # bytes of the awaited head have arrived
        self._bodies: list[tuple[StreamReader, asyncio.TimerHandle]] = []

    # -- aiohttp's hooks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_head_timer()  # a connection that never sends a head is timed too

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._close or self._force_close:
            return
        if self._upgraded or self._payload_parser is not None:
            self._stop_head_timer()  # a websocket (or an upgrade under way): no more heads
            return
        self._bodies = [(p, timer) for p, timer in self._bodies if not _done(p, timer)]
        if new := self._request_count - heads:
            self._stop_head_timer()
            self._time_bodies(new)
        elif data and not self._bodies:  # not body bytes: part of the next head
            self._head_started = True
            if self._head_timer is None:
                self._start_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_timer()
        for _, timer in self._bodies:
            timer.cancel()
        self._bodies = []
        super().connection_lost(exc)

    # -- the head ----------------------------------------------------------------------

    def _start_head_timer(self) -> None:
        self._head_timer = self._loop.call_later(self._header_timeout, self._head_late)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_started = False

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport is None or self._upgraded:
            return
        if self._request_in_progress or self._messages:
            # A pipelined head arriving while a request is served is timed once we are free.
            self._start_head_timer()
            return
        log.info("read_timeout", part="head", bytes_received=self._head_started)
        if self._head_started:
            self.transport.write(HEAD_TIMEOUT_RESPONSE)
        self.force_close()  # the transport sends what it holds, then closes

    # -- bodies ------------------------------------------------------------------------

    def _time_bodies(self, new: int) -> None:
        for message, payload in list(self._messages)[-new:]:
            if payload is EMPTY_PAYLOAD or payload.is_eof() or getattr(message, "upgrade", False):
                continue
            timer = self._loop.call_later(self._body_timeout, self._body_late, payload)
            self._bodies.append((payload, timer))

    def _body_late(self, payload: StreamReader) -> None:
        self._bodies = [(p, t) for p, t in self._bodies if p is not payload]
        if payload.is_eof():
            return
        log.info("read_timeout", part="body")
        self._lingering_time = 0.0  # do not wait for the rest of it either
        self.close()  # no further request on this connection after the answer
        payload.set_exception(BodyTimeout("the request body did not arrive in time"))


def _done(payload: StreamReader, timer: asyncio.TimerHandle) -> bool:
    if payload.is_eof():
        timer.cancel()
        return True
    return False


class TimedServer(web.Server):
    """aiohttp's connection factory, making TimedRequestHandlers."""

    def __init__(self, *args: Any, header_timeout: float, body_timeout: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._deadlines = {"header_timeout": header_timeout, "body_timeout": body_timeout}

    def __call__(self) -> RequestHandler:
        # What web.Server.__call__ does, with our protocol class.
        return TimedRequestHandler(self, loop=self._loop, **self._deadlines, **self._kwargs)


class HubRunner(web.AppRunner):
    """web.AppRunner serving the app's connections with read deadlines taken from
    its settings (EADRCC_HEADER_TIMEOUT_SECONDS, EADRCC_BODY_TIMEOUT_SECONDS)."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the app
        settings = self.app[SETTINGS]
        return TimedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            **plain._kwargs,
        )
