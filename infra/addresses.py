"""The private-address policy (docs/security.md, "Private addresses"): what Switchyard connects to
on a user's word (a destination's URL, a table source's database) must be a public address, unless
ALLOW_PRIVATE_DESTINATIONS is on.

A URL is typed by a user; without the policy it could reach the machine's own services or a
cloud metadata endpoint. The host is resolved once and the connection goes to that very
address (keeping the host name for the Host header and TLS), so a DNS answer that changes
between the check and the connection cannot slip a private one in. An IPv6 address that
carries an IPv4 one is judged as the IPv4 address it reaches.
"""

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose last 32 bits are an IPv4 address the packets end up at: IPv4-compatible
# (::a.b.c.d), IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) and NAT64's
# well-known prefix (64:ff9b::a.b.c.d). 6to4 (2002:aabb:ccdd::) carries one in bits 16-47.
IPV4_CARRIERS = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Never public, though Python 3.11 calls them global: site-local (routed inside a site) and
# NAT64's local-use prefix (translating to whatever IPv4 network the site chose).
NOT_PUBLIC_V6 = tuple(ipaddress.IPv6Network(prefix) for prefix in ("fec0::/10", "64:ff9b:1::/48"))


class PrivateAddress(Exception):
    """The host is, or resolves to, a non-public address."""


class Unresolvable(Exception):
    """The host has no address (yet): worth trying again later."""


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


def pinned_target(url: str, headers: Mapping[str, str]) -> Target:
    """The request to the public address `url`'s host resolves to; PrivateAddress if any of
    its addresses is not public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if (address := first_private(addresses)) is not None:
        raise PrivateAddress(
            f"{host} is {address}, not a public address; set ALLOW_PRIVATE_DESTINATIONS "
            "to send to private networks"
        )
    address = addresses[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    pinned_headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(urlunsplit(parts._replace(netloc=netloc)), pinned_headers, extensions)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order (a literal is its own)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as error:
        raise Unresolvable(f"cannot resolve {host}: {error}") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def first_private(addresses: Iterable[IPAddress]) -> IPAddress | None:
    return next((address for address in addresses if not is_public(address)), None)


def saved_url_problem(value: Any) -> str | None:
    """Why a URL typed into a setting or a mapping cannot be saved while the guard is on: its
    host is private without asking DNS (localhost or a non-public IP literal). A name is
    judged at send time, on the address it then resolves to."""
    if settings.ALLOW_PRIVATE_DESTINATIONS or not isinstance(value, str):
        return None
    host = (urlsplit(value).hostname or "").rstrip(".")
    if host != "localhost" and not host.endswith(".localhost"):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name
        if is_public(address):
            return None
    return (
        f"{host} is not a public address; set ALLOW_PRIVATE_DESTINATIONS to send to private "
        "networks"
    )


def is_public(address: IPAddress) -> bool:
    """A global unicast address, judged on the IPv4 address inside any IPv6 wrapping."""
    address = embedded_ipv4(address) or address
    if address.is_multicast:
        return False
    if address.version == 6 and any(address in network for network in NOT_PUBLIC_V6):
        return False
    return address.is_global


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version == 4:
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in carrier for carrier in IPV4_CARRIERS):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None
