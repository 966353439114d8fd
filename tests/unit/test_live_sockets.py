"""LiveSockets' one ping timer for all sockets (the sockets themselves are
exercised over real connections in tests/integration/test_lean_socket.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from eadrcc.events.lean import LiveSockets
from eadrcc.events.socket import TokenSockets


class Pinged:
    """A socket as the timer sees it: the first ping raises (a bug in one socket)."""

    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if self.pings == 1:
            raise RuntimeError("one socket's bug")


async def test_a_ping_that_raises_does_not_stop_the_timer() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        live = LiveSockets(0.01, TokenSockets())
        sock = Pinged()
        live.add(sock, "token")  # type: ignore[arg-type]
        async with asyncio.timeout(10):
            while sock.pings < 2:
                await asyncio.sleep(0.01)
        assert errors  # the first ping's error was reported, and pings went on
    finally:
        loop.set_exception_handler(None)
