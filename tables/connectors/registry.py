"""Each database a table source can read, by its URL's scheme: one module per database."""

from urllib.parse import urlsplit

from . import postgres
from .base import Connector

REGISTRY: dict[str, Connector] = {
    "postgres": postgres,
    "postgresql": postgres,
}


def connector_for(url: str) -> Connector:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in REGISTRY:
        known = ", ".join(f"{name}://" for name in REGISTRY)
        raise ValueError(f"no connector reads {scheme or 'this'}:// URLs; known: {known}")
    return REGISTRY[scheme]
