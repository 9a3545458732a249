"""Where a PostgreSQL URL an editor typed may take Switchyard, decided before connecting: a
table source's (tables/connectors/postgres.py) and a warehouse destination's (warehouse/).

An editor types the URL, so it must reach nothing that only Switchyard can: the machine's
sockets and files, a private network (unless ALLOW_PRIVATE_DESTINATIONS is on), Switchyard's
own database (whatever the setting). The URL is never handed to libpq as it is: it is read
here, refused when it asks for more than a host, a port, a database, a user, a password and
a few TLS options, and turned into libpq's keywords with `hostaddr` set to the address that
was checked (`host` stays, for TLS's server name), so that a DNS answer changing after the
check cannot move the connection.
"""

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

from .addresses import IPAddress, Unresolvable, embedded_ipv4, first_private, resolve

DEFAULT_PORT = 5432
# The options a URL may carry, with the values allowed (None: any). sslmode and
# channel_binding choose how safely the warehouse is talked to and read no local file;
# sslrootcert=system names the system's trust store (for verify-full), where any other value
# is a file. The rest is refused: files (passfile, service, sslkey, sslcrl, ...), other hosts
# (host, hostaddr), Kerberos, server options; connect_timeout and application_name are ours.
OPTIONS: dict[str, frozenset[str] | None] = {
    "sslmode": None,
    "channel_binding": None,
    "sslrootcert": frozenset({"system"}),
}
# What libpq would otherwise take from this machine for a server an editor chose: a password
# from ~/.pgpass (a path under /dev/null never exists; /dev/null itself earns a warning) or
# PGPASSWORD (an empty password given stops libpq reading it), a client certificate from
# ~/.postgresql, a Kerberos ticket.
LOCAL_CREDENTIALS_OFF = {
    "passfile": os.path.join(os.devnull, "pgpass"),
    "sslcertmode": "disable",
    "gssencmode": "disable",
}
LOOPBACK = "loopback"
PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class TargetRefused(Exception):
    """The URL may not be connected to (`kind` REFUSED) or cannot be read (MALFORMED); the
    message says why, and never quotes the password."""

    REFUSED = "refused"  # a rule forbids connecting there: nothing was tried
    MALFORMED = "unreachable"  # what libpq would refuse too: nothing was reached

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    dbname: str
    user: str
    password: str
    options: dict[str, str]


def keywords(url: str) -> dict[str, Any]:
    """libpq's connection keywords for `url`, pinned to the address that was checked.
    TargetRefused when a rule refuses it (saying which), Unresolvable when its host has no
    address."""
    target = parse(url)
    address = checked_address(target)
    return {
        "host": target.host,
        "hostaddr": str(address),
        "port": target.port,
        "dbname": target.dbname,
        "user": target.user,
        "password": target.password,
        **target.options,
        **LOCAL_CREDENTIALS_OFF,
    }


def parse(url: str) -> Target:
    try:
        parts = urlsplit(url)
        if "," in parts.netloc.rpartition("@")[2]:
            raise refused("a URL names one host, not several")
        host, user, password, dbname = (
            decoded(value or "")
            for value in (parts.hostname, parts.username, parts.password, parts.path[1:])
        )
        port = parts.port or DEFAULT_PORT
        chosen = options(parts.query)
    except ValueError as error:  # what libpq would refuse too: nothing was reached
        raise TargetRefused(TargetRefused.MALFORMED, f"malformed URL: {error}") from None
    if not host or host.startswith(("/", "@")):
        raise refused("socket paths are not allowed")
    if not user:
        raise refused("the URL must name a user")
    return Target(host, port, dbname or user, user, password, chosen)


def options(query: str) -> dict[str, str]:
    chosen = {}
    for pair in filter(None, query.split("&")):
        name, _, value = (decoded(text) for text in pair.partition("="))
        if name in ("host", "hostaddr") and value.startswith(("/", "@")):
            raise refused("socket paths are not allowed")
        if name not in OPTIONS:
            allowed = ", ".join(sorted(OPTIONS))
            raise refused(f"the option {name} is not allowed (only {allowed})")
        if (values := OPTIONS[name]) is not None and value not in values:
            raise refused(f"{name}={value} is not allowed (only {name}={', '.join(values)})")
        chosen[name] = value
    return chosen


def decoded(text: str) -> str:
    # libpq refuses a bad escape or a NUL where Python's unquote lets them through.
    if PERCENT_ESCAPE.search(text):
        raise ValueError("a % that starts no escape")
    text = unquote(text, errors="strict")
    if "\0" in text:
        raise ValueError("a NUL character")
    return text


def checked_address(target: Target) -> IPAddress:
    addresses = resolve(target.host, target.port)
    if not settings.ALLOW_PRIVATE_DESTINATIONS and first_private(addresses) is not None:
        raise refused(f"{named(target.host)} a private address (ALLOW_PRIVATE_DESTINATIONS is off)")
    if any(is_own_database(address, target) for address in addresses):
        raise refused("this is Switchyard's own database")
    return addresses[0]


def named(host: str) -> str:
    # The address a name resolves to is not told: it would map the inside of the network.
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"{host} resolves to"
    return f"{host} is"


def is_own_database(address: IPAddress, target: Target) -> bool:
    """The database Switchyard runs on: its name on its server, the server known by the
    addresses its host resolves to, or by any loopback address when it is on this machine."""
    own = settings.DATABASES["default"]
    own_port = int(own.get("PORT") or DEFAULT_PORT)
    if (target.dbname, target.port) != (own["NAME"], own_port):
        return False
    host = own.get("HOST") or ""
    if not host or host.startswith("/"):  # a socket: the server on this machine
        return server(address) == LOOPBACK
    try:
        own_addresses = resolve(host, own_port)
    except Unresolvable:
        own_addresses = []
    return server(address) in {server(own_address) for own_address in own_addresses}


def server(address: IPAddress) -> IPAddress | str:
    """Where an address leads: a server listening on one loopback address usually listens on
    them all (or on every address, loopback included)."""
    address = embedded_ipv4(address) or address
    return LOOPBACK if address.is_loopback else address


def refused(reason: str) -> TargetRefused:
    return TargetRefused(TargetRefused.REFUSED, f"refused: {reason}")
