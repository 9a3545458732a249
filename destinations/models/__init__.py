from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from infra import encryption
from infra.addresses import saved_url_problem
from ingest.models import Source

from .. import mapping, triggers
from ..integrations import REGISTRY, get_kind
from ..integrations.base import Action, Config, Kind

# Deliveries, the hourly tallies and transformations have modules of their own; they are
# imported from here like the rest.
from .deliveries import AttemptLink, Delivery, DeliveryAttempt
from .tallies import FilteredCount, LatencyCount, OutcomeCount, ReceivedCount
from .transformations import (
    DestinationTransformation,
    SourceTransformation,
    Transformation,
    TransformationLibrary,
    TransformationVersion,
)


def kind_choices() -> list[tuple[str, str]]:
    return [(key, kind.name) for key, kind in REGISTRY.items()]


class Destination(models.Model):
    """A configured instance of a destination kind: its settings and encrypted secrets."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=50, choices=kind_choices)
    settings = models.JSONField(default=dict, blank=True)
    # A Fernet token of the secret settings (docs/security.md, "Secrets at rest"); read through
    # `secrets`.
    encrypted_secrets = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    sources = models.ManyToManyField(Source, related_name="destinations", blank=True)
    # Flow control and retries (docs/delivery.md, "Retries" and "Isolation and flow control").
    max_concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="Requests in flight at once, at most."
    )
    rate_limit = models.FloatField(
        null=True, blank=True, help_text="Requests per second, at most; empty: no limit."
    )
    retry_base_seconds = models.FloatField(default=10.0)
    retry_cap_seconds = models.FloatField(default=600.0)
    retry_window_seconds = models.PositiveIntegerField(
        default=4 * 3600,
        help_text="Give up after this long since the first attempt (and at least 3 attempts).",
    )
    breaker_threshold = models.PositiveIntegerField(
        default=20, help_text="Consecutive retryable failures that pause the destination."
    )
    breaker_cooldown_seconds = models.FloatField(
        default=30.0, help_text="How long a pause lasts before one probe request."
    )
    # Per-user order (docs/delivery.md, "Per-user order"); a new destination takes its kind's
    # default (Kind.orders_per_user): the admin's form, config as code and the services say so.
    keep_order = models.BooleanField(
        "keep order per user",
        default=False,
        help_text=(
            "Send each user's events in the order they were received: while one waits for a "
            "retry, that user's later events wait behind it; other users go on."
        ),
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # A kind may set its mappings' flush interval (a warehouse's load interval).
        if self.kind not in REGISTRY:
            return
        if (interval := self.kind_spec.flush_interval(self.settings)) is not None:
            self.mappings.exclude(flush_interval=interval).update(flush_interval=interval)

    @property
    def kind_spec(self) -> Kind:
        return get_kind(self.kind)

    @property
    def secrets(self) -> encryption.Secrets:
        return encryption.decrypt(self.encrypted_secrets)

    def set_secrets(self, values: dict[str, str]) -> None:
        self.encrypted_secrets = encryption.encrypt({k: v for k, v in values.items() if v})

    def config(self) -> Config:
        """Settings with their defaults filled in (base_url apart: builders read
        `config.get("base_url")` to know whether it was set) and the decrypted secrets."""
        spec = self.kind_spec
        defaults = {
            s.key: s.default for s in spec.settings if not s.secret and s.default is not None
        }
        base_url = self.settings.get("base_url") or spec.default_base_url
        return Config(defaults | self.settings, self.secrets, base_url, self.pk)

    def clean(self) -> None:
        if self.kind not in REGISTRY:
            raise ValidationError({"kind": f"unknown destination kind '{self.kind}'"})
        if not isinstance(self.settings, dict):
            raise ValidationError({"settings": "settings must be a JSON object"})
        settings = self.kind_spec.all_settings
        secret_keys = {s.key for s in settings if s.secret}
        if leaked := secret_keys & set(self.settings):
            raise ValidationError(
                f"secrets belong in the secrets, not the settings: {sorted(leaked)}"
            )
        given = {k for k, v in self.settings.items() if v not in (None, "")} | set(self.secrets)
        if missing := [
            s.label for s in settings if s.required and s.default is None and s.key not in given
        ]:
            raise ValidationError(f"required: {', '.join(missing)}")
        self.refuse_private_urls()
        self.check_settings()

    def check_settings(self) -> None:
        values = {**self.settings, **self.secrets}
        for setting in self.kind_spec.all_settings:
            value = values.get(setting.key)
            if setting.check and value not in (None, "") and (problem := setting.check(value)):
                raise ValidationError(f"{setting.label}: {problem}")

    def refuse_private_urls(self) -> None:
        for key, value in self.settings.items():
            if problem := saved_url_problem(value):
                raise ValidationError(f"{key}: {problem}")


class Mapping(models.Model):
    """Which events a destination receives (trigger) and what it receives (fields)."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="mappings")
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    trigger = models.TextField(
        blank=True, help_text='Segment subscription syntax, e.g. type = "track"'
    )
    fields = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    batch_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the action's default."
    )
    flush_interval = models.FloatField(
        default=1.0, help_text="Seconds the oldest waiting delivery may wait for a batch to fill."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["destination__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["destination", "name"], name="mapping_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.destination} / {self.name}"

    def save(self, *args, **kwargs) -> None:
        # A bad trigger or mapping must never reach the router, whoever saves it.
        self.clean()
        destination = self.destination
        if (interval := destination.kind_spec.flush_interval(destination.settings)) is not None:
            self.flush_interval = interval
        super().save(*args, **kwargs)

    @property
    def action_spec(self) -> Action:
        return self.destination.kind_spec.action(self.action)

    @property
    def effective_batch_size(self) -> int:
        action = self.action_spec
        if not action.batching:
            return 1
        return min(self.batch_size or action.default_batch_size, action.max_batch_size)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            action = self.action_spec
        except KeyError as error:
            raise ValidationError({"action": str(error.args[0])}) from None
        try:
            triggers.parse(self.trigger)
        except triggers.TriggerSyntaxError as error:
            errors["trigger"] = str(error)
        if problem := fields_problem(action, self.fields):
            errors["fields"] = problem
        limit = action.max_batch_size if action.batching else 1
        if self.batch_size and self.batch_size > limit:
            errors["batch_size"] = f"{action.title} sends at most {limit} per request"
        if self.flush_interval < 0:
            errors["flush_interval"] = "the flush interval cannot be negative"
        if errors:
            raise ValidationError(errors)


def fields_problem(action: Action, fields: Any) -> str | None:
    if not isinstance(fields, dict):
        return "fields must be a JSON object"
    try:
        mapping.validate(fields)
    except mapping.MappingError as error:
        return str(error)
    known = {field.key for field in action.fields}
    if unknown := sorted(set(fields) - known):
        return (
            f"{action.title} has no field {', '.join(map(repr, unknown))} (it has {sorted(known)})"
        )
    required = [f.key for f in action.fields if f.required and f.key not in fields]
    if required:
        return f"required field {', '.join(map(repr, required))} has no mapping"
    for field in action.fields:
        if field.type == "url" and (problem := saved_url_problem(fields.get(field.key))):
            return f"{field.key}: {problem}"
    return None


class DestinationState(models.Model):
    """How a destination is faring: the circuit breaker, the rate limit, the last error.

    Kept apart from Destination because it changes on every batch, and its row is the lock
    that serializes claims for the destination.
    """

    destination = models.OneToOneField(
        Destination, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Open circuit: no claims until then; after it, one probe batch decides.
    paused_until = models.DateTimeField(null=True, blank=True)
    probing = models.BooleanField(default=False)
    next_request_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=60, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.destination_id}: {self.consecutive_failures} failures in a row"


__all__ = [
    "AttemptLink",
    "Delivery",
    "DeliveryAttempt",
    "Destination",
    "DestinationState",
    "DestinationTransformation",
    "FilteredCount",
    "LatencyCount",
    "Mapping",
    "OutcomeCount",
    "ReceivedCount",
    "SourceTransformation",
    "Transformation",
    "TransformationLibrary",
    "TransformationVersion",
]
