"""Source management: creating sources and rotating their write keys."""

import re

from django.core.exceptions import ValidationError

from .models import Source, new_write_key

WRITE_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,200}$")


def create_source(name: str, write_key: str | None = None) -> tuple[Source, bool]:
    """The source called `name`, created if needed; True when it was created now."""
    if write_key is not None and not WRITE_KEY_PATTERN.match(write_key):
        raise ValidationError(
            "a write key needs 32 to 200 URL-safe characters (letters, digits, '-' and '_')"
        )
    existing = Source.objects.filter(name=name).first()
    if existing:
        if write_key and existing.write_key != write_key:
            raise ValidationError(f"source '{name}' exists with another write key")
        return existing, False
    return Source.objects.create(name=name, write_key=write_key or new_write_key()), True


def rotate_write_key(source: Source) -> str:
    """Give the source a new write key; the old one stops working at once."""
    source.write_key = new_write_key()
    source.save(update_fields=["write_key"])
    return source.write_key
