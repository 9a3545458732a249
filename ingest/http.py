"""What the Tracking API reads from an HTTP request besides the JSON body."""

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .decoding import parse_json, read_body

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def decoded_payload(request: HttpRequest, limit: int) -> Any:
    try:
        content_length = int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        content_length = None
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    return parse_json(read_body(request, content_length, encoding, limit))


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address; X-Forwarded-For counts only when it comes from a trusted proxy."""
    address = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not is_trusted_proxy(address):
        return address
    # Walk from the nearest hop back; the first address not ours is the client.
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        if parse_ip(hop) is None:
            break
        if not is_trusted_proxy(hop):
            return hop
    return address


def is_trusted_proxy(address: str | None) -> bool:
    ip = parse_ip(address)
    if ip is None:
        return False
    return any(ip in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def parse_ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


@lru_cache(maxsize=4)
def trusted_networks(proxies: tuple[str, ...]) -> list[IPNetwork]:
    return [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]
