"""Who is asking: the client's address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from shipkey.config import IPNetwork


@functools.lru_cache(maxsize=4096)  # the same few peers ask again and again
def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _canonical(value: str) -> str | None:
    """``value`` as :func:`client_ip` records an address, None when it is not one."""
    addr = _parse_ip(value)
    return None if addr is None else str(addr)


IPV6_CLIENT_PREFIX = 64
"""The IPv6 block one customer gets: its hosts pick addresses in it at will."""


@functools.lru_cache(maxsize=4096)
def limit_key(ip: str | None) -> str:
    """The key a client address is counted under by every rate limit.

    IPv4 counts per address. IPv6 counts per /64 (a customer varies its addresses within its
    /64 at will: counted per address, it would never be limited); an IPv4-mapped IPv6 address
    (``::ffff:a.b.c.d``) counts as the IPv4 address it is. A missing address is ``unknown``;
    anything else that is not an address counts as it is.
    """
    if not ip:
        return "unknown"
    addr = _parse_ip(ip.split("%", 1)[0])
    if addr is None:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, IPV6_CLIENT_PREFIX), strict=False))
    return str(addr)


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[IPNetwork]
) -> bool:
    return any(addr.version == net.version and addr in net for net in nets)


def within(ip: str | None, nets: Sequence[IPNetwork]) -> bool:
    """Whether the client address ``ip`` (as :func:`client_ip` gives it) is in one of ``nets``;
    an IPv4-mapped IPv6 address is looked up as its IPv4 address."""
    addr = _parse_ip(ip) if ip else None
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return _trusted(addr, nets)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str | None:
    """The address to record for a request.

    The socket peer is the answer unless it is a trusted proxy; then the ``X-Forwarded-For``
    chain is walked from the right, skipping further trusted proxies, and the first address not
    trusted is the client. Anything unparseable ends the walk at the last good address.
    """
    if not peer:
        return peer
    if not forwarded_for or not trusted:  # the usual case, without a proxy to believe
        return _canonical(peer) or peer
    peer_addr = _parse_ip(peer)
    if peer_addr is None:
        return peer
    if not _trusted(peer_addr, trusted):
        return str(peer_addr)
    client = peer_addr
    for hop in reversed(forwarded_for[:4096].split(",")):
        addr = _parse_ip(hop)
        if addr is None:
            break
        client = addr
        if not _trusted(addr, trusted):
            break
    return str(client)


@dataclass(frozen=True)
class Client:
    """Who sent a request: the address it is counted under (see :func:`client_ip`) and its
    user agent."""

    ip: str | None = None
    user_agent: str | None = None


IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48
"""The network a client address belongs to, for telling places apart: one household, office
or mobile carrier's pool is one /24 (IPv4) or one /48 (IPv6, a site's allocation)."""


@functools.lru_cache(maxsize=4096)
def network_of(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) an address recorded by :func:`client_ip` is in, as CIDR
    text; an IPv4-mapped IPv6 address counts as its IPv4 address; None for no address."""
    addr = _parse_ip(ip.split("%", 1)[0]) if ip else None
    if addr is None:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((addr, IPV6_NETWORK_PREFIX), strict=False))
        addr = addr.ipv4_mapped
    return str(ipaddress.IPv4Network((addr, IPV4_NETWORK_PREFIX), strict=False))
