"""Writing an imported item: only what differs, validated as the admin validates it."""

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from .document import ConfigurationError


def save_if_changed(
    instance: models.Model, values: dict[str, Any], path: str, force: bool = False
) -> str:
    """Save only what differs, so a second import writes nothing; says what it did."""
    created = instance._state.adding
    changed = force or created
    changed = changed or any(getattr(instance, key) != value for key, value in values.items())
    if not changed:
        return "unchanged"
    for key, value in values.items():
        setattr(instance, key, value)
    try:
        instance.full_clean()
        instance.save()
    except ValidationError as error:
        raise located(error, path) from None
    return "created" if created else "updated"


def located(error: ValidationError, path: str, subject: str = "") -> ConfigurationError:
    """The error at `path` (and its field's key); `subject` ("library 'PII tools': ") names
    the item when the service's message does not."""
    if not hasattr(error, "error_dict"):
        return ConfigurationError(f"{path}: {subject}{' '.join(error.messages)}")
    key, problems = next(iter(error.message_dict.items()))
    where = path if key == NON_FIELD_ERRORS else f"{path}.{key}"
    return ConfigurationError(f"{where}: {subject}{' '.join(problems)}")
