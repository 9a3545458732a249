"""Where a table source's PostgreSQL URL may take Switchyard: infra/postgres_target.py's
policy, which warehouse destinations share, its refusals read as the table sources' failures."""

from typing import Any

from infra import postgres_target
from infra.postgres_target import TargetRefused

from .base import ReadFailed


def keywords(url: str) -> dict[str, Any]:
    """libpq's keywords for `url`, pinned to the address that was checked (ReadFailed when
    the policy refuses it, Unresolvable when its host has no address)."""
    try:
        return postgres_target.keywords(url)
    except TargetRefused as refusal:
        raise ReadFailed(refusal.kind, str(refusal)) from None
