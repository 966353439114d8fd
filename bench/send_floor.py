"""The floor under a websocket message's cost: the CPU one `send` of a frame to a
loopback TCP socket costs the sending process, with nothing else around it.

One process writes the same frame to each of N sockets, round after round; another
process reads them all (as the bench's clients read the hub's frames). On loopback
the kernel delivers a segment to its receiver inside the sender's `send`, so what
this measures is the kernel's work for both ends, charged to the sender, as it is
charged to the hub in bench/push_latency.py (which runs this beside its own runs).
No event loop, no websocket library: Python's `socket.send` alone.

    python bench/send_floor.py [--sockets 1000] [--frame-bytes 1024] [--rounds 200]
"""

from __future__ import annotations

import argparse
import multiprocessing
import selectors
import socket
import time
from multiprocessing.connection import Connection
from typing import Any

# Between rounds, as between events: the readers empty their sockets.
PAUSE_S = 0.01


def measure(sockets: int, frame_bytes: int, rounds: int) -> dict[str, Any]:
    """µs of the sender's CPU per send (median of three runs, and their spread)."""
    runs = sorted(_run(sockets, frame_bytes, rounds) for _ in range(3))
    return {
        "sockets": sockets,
        "frame_bytes": frame_bytes,
        "rounds": rounds,
        "us_per_send": runs[1],
        "us_per_send_low": runs[0],
        "us_per_send_high": runs[2],
    }


def _run(sockets: int, frame_bytes: int, rounds: int) -> float:
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    sender = context.Process(target=_send, args=(there, sockets, frame_bytes, rounds))
    sender.start()
    us: float = here.recv()
    sender.join()
    return us


def _send(pipe: Connection, sockets: int, frame_bytes: int, rounds: int) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(sockets)
    port = listener.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    reader = context.Process(target=_read, args=(port, sockets, ready))
    reader.start()
    conns = [listener.accept()[0] for _ in range(sockets)]
    for conn in conns:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the hub's
    ready.wait()
    frame = b"\x81\x7e" + frame_bytes.to_bytes(2, "big") + b"x" * frame_bytes  # a text frame
    spent = 0.0
    for _ in range(rounds):
        began = time.process_time()
        for conn in conns:
            conn.send(frame)
        spent += time.process_time() - began
        time.sleep(PAUSE_S)
    for conn in conns:
        conn.close()
    reader.join()
    pipe.send(1e6 * spent / (sockets * rounds))


def _read(port: int, sockets: int, ready: Any) -> None:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(sockets)]
    selector = selectors.DefaultSelector()
    for conn in conns:
        conn.setblocking(False)
        selector.register(conn, selectors.EVENT_READ)
    ready.set()
    open_ = sockets
    while open_:
        for key, _ in selector.select():
            if not key.fileobj.recv(1 << 16):  # type: ignore[union-attr]
                selector.unregister(key.fileobj)
                open_ -= 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--frame-bytes", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    floor = measure(args.sockets, args.frame_bytes, args.rounds)
    print(
        f"{floor['us_per_send']:.2f} µs of the sender's CPU per send "
        f"({floor['us_per_send_low']:.2f}-{floor['us_per_send_high']:.2f} over three runs): "
        f"a {args.frame_bytes}-byte frame to each of {args.sockets} loopback sockets, "
        f"{args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
