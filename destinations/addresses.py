"""The private-address guard (SPEC §7): destination requests go to public addresses only,
unless ALLOW_PRIVATE_DESTINATIONS is on.

A webhook URL or a base URL is typed by a user; without the guard it could reach the
machine's own services or a cloud metadata endpoint. The host is resolved once and the
request goes to that very address (keeping the Host header and the TLS server name), so a
DNS answer that changes between the check and the connection cannot slip a private one in.
"""

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from .integrations.base import Request

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddress(Exception):
    """The destination's host is, or resolves to, a non-public address."""


class Unresolvable(Exception):
    """The destination's host has no address (yet): worth trying again later."""


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


def pinned_target(request: Request) -> Target:
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Unresolvable(f"cannot resolve {host}: {error}") from None
    addresses = [public_view(ipaddress.ip_address(info[4][0])) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise PrivateAddress(
                f"{host} is {address}, not a public address; set ALLOW_PRIVATE_DESTINATIONS "
                "to send to private networks"
            )
    address = addresses[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    headers = {**request.headers, "Host": parts.netloc.rpartition("@")[2]}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(urlunsplit(parts._replace(netloc=netloc)), headers, extensions)


def saved_url_problem(value: Any) -> str | None:
    """Why a URL typed into a setting or a mapping cannot be saved while the guard is on: its
    host is private without asking DNS (localhost or a non-public IP literal). A name is
    judged at send time, on the address it then resolves to."""
    if settings.ALLOW_PRIVATE_DESTINATIONS or not isinstance(value, str):
        return None
    host = (urlsplit(value).hostname or "").rstrip(".")
    if host != "localhost" and not host.endswith(".localhost"):
        try:
            address = public_view(ipaddress.ip_address(host))
        except ValueError:
            return None  # a name
        if address.is_global:
            return None
    return (
        f"{host} is not a public address; set ALLOW_PRIVATE_DESTINATIONS to send to private "
        "networks"
    )


def public_view(address: IPAddress) -> IPAddress:
    """An IPv4 address in IPv6 clothing (::ffff:10.0.0.1) is judged as the IPv4 it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address
