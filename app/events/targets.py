"""Where events may be sent: http(s) URLs whose host resolves to public addresses only,
unless the deployment allows private ones (docs/events.md#targets)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

RESOLVE_TIMEOUT_SECONDS = 5.0


class TargetRefused(Exception):
    """The URL may not receive events; the message says why."""


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes an address non-public, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved or shared (not public)"
    return None


def parse(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL, or TargetRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"the URL is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs can receive events")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL has no host")
    return host, port or (443 if scheme == "https" else 80)


async def check(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), whose host does not resolve, or (unless
    allow_private) that resolves to any loopback, private, link-local or otherwise
    non-public address. Every address the host resolves to is checked: a name with one
    public and one private address is refused."""
    host, port = parse(url)
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                RESOLVE_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError):
            raise TargetRefused(f"the host {host} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        kind = _kind(address)
        if kind is not None:
            raise TargetRefused(
                f"the host {host} resolves to {address}, a {kind} address; events go to "
                "public addresses only (MSP_EVENTS_ALLOW_PRIVATE=true allows private ones)"
            )
