"""Outbound HTTP that cannot be turned against the hub's own network.

A webhook URL is checked when the subscription is made and again at every
delivery: the host is resolved and every address it resolves to must be a
public one. Loopback, private, link-local, multicast and other reserved
addresses are refused unless the operator lists the host in
EADRCC_WEBHOOK_ALLOW_HOSTS; link-local (169.254.0.0/16, where cloud metadata
services live, and fe80::/10) is refused even then. At delivery the check runs
inside the HTTP client's resolver, so the address checked is the address
connected to (a name that re-resolves elsewhere between check and connect
gains nothing). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) → the addresses it resolves to; the real one asks the system.
Lookup = Callable[[str, int], Awaitable[list[str]]]


class Refused(Exception):
    """The URL may not be called; the message says why (shown to the caller)."""


async def system_lookup(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return sorted({str(info[4][0]) for info in infos})


def _always_refused(ip: IPAddress) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        return _always_refused(mapped)
    return ip.is_link_local


def _internal(ip: IPAddress) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        return _internal(mapped)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class Guard:
    """Decides whether a host may be called, by the addresses it resolves to."""

    def __init__(self, allow_hosts: Iterable[str] = (), lookup: Lookup = system_lookup) -> None:
        self.allow_hosts = frozenset(h.strip().lower().strip("[]") for h in allow_hosts if h)
        self.lookup = lookup

    def check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%")[0])
        if _always_refused(ip):
            raise Refused(f"{host} resolves to a link-local address ({ip}): never allowed")
        if _internal(ip) and host.lower().strip("[]") not in self.allow_hosts:
            raise Refused(
                f"{host} resolves to an internal address ({ip}); "
                "an operator may allow the host with EADRCC_WEBHOOK_ALLOW_HOSTS"
            )

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`, each checked; Refused if any is not allowed."""
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(5):
                    addresses = await self.lookup(host, port)
            except (OSError, TimeoutError) as exc:
                raise Refused(f"{host} does not resolve ({type(exc).__name__})") from None
            if not addresses:
                raise Refused(f"{host} does not resolve")
        for address in addresses:
            self.check_address(host, address)
        return addresses

    def check_literal(self, url: str) -> None:
        """At delivery: a URL naming an IP address directly (aiohttp's resolver is
        not asked for those)."""
        parts = parse_webhook_url(url)
        literal = _literal(parts.hostname or "")
        if literal is not None:
            self.check_address(parts.hostname or "", literal)

    async def check_url(self, url: str) -> None:
        parts = parse_webhook_url(url)
        assert parts.hostname is not None
        await self.resolve(parts.hostname, _port(parts))

    def session(self, *, connect: float, total: float) -> aiohttp.ClientSession:
        """An HTTP client whose every connection goes through this guard."""
        connector = aiohttp.TCPConnector(
            resolver=_GuardedResolver(self), use_dns_cache=False, limit=0, limit_per_host=0
        )
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect)
        return aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)


def parse_webhook_url(url: str) -> SplitResult:
    """An http(s) URL with a host and nothing surprising, else Refused."""
    if len(url) > 2000 or any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused("not a URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("credentials in the URL are not allowed (the signature authenticates)")
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%")[0]))
    except ValueError:
        return None


class _GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the guard's check on every answer.

    aiohttp does not consult the resolver for IP literals; `Guard.check_url`
    covers those before each request (a literal cannot change under us).
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._guard.resolve(host, port)
        return [_result(host, a, port) for a in addresses]

    async def close(self) -> None:
        return None


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    result: dict[str, Any] = {
        "hostname": host,
        "host": address,
        "port": port,
        "family": family,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }
    return result  # type: ignore[return-value]
