from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from infra import encryption
from ingest.models import Source

from .. import mapping, triggers
from ..addresses import saved_url_problem
from ..integrations import REGISTRY, get_kind
from ..integrations.base import Action, Config, Kind

# The hourly tallies have a module of their own; they are imported from here like the rest.
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
    # A Fernet token of the secret settings (SPEC §7); read through `secrets`.
    encrypted_secrets = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    sources = models.ManyToManyField(Source, related_name="destinations", blank=True)
    # Flow control and retries (SPEC §5.5, §5.6).
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
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

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
        return Config(defaults | self.settings, self.secrets, base_url)

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


class DeliveryQuerySet(models.QuerySet):
    def of(self, deliveries: Sequence["Delivery"]) -> "DeliveryQuerySet":
        """These rows, looked for only in the partitions that hold them."""
        if not deliveries:
            return self.none()
        received = [delivery.event_received_at for delivery in deliveries]
        return self.filter(
            pk__in=[delivery.pk for delivery in deliveries],
            event_received_at__range=(min(received), max(received)),
        )


class Delivery(models.Model):
    """One event for one mapping: its mapped payload and where it stands (SPEC §5.5).

    On PostgreSQL deliveries are partitioned by their event's received_at, beside the event's
    own partition, so retention drops an event with all its deliveries (replays included).
    Foreign keys into partitioned tables exist in Django only: PostgreSQL would want the
    partition key in them.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        IN_FLIGHT = "in_flight"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed"

    event = models.ForeignKey(
        "ingest.Event", on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    event_received_at = models.DateTimeField()
    # No index of its own: claims and the sweeper must take delivery_due (the due rows alone),
    # which a plain mapping_id index beside it lured the planner away from on partitions
    # without fresh statistics. Deleting a mapping reads its deliveries' partitions whole.
    mapping = models.ForeignKey(
        Mapping, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # No index of its own: delivery_log and delivery_in_flight start with destination_id.
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payload = models.JSONField(null=True, blank=True)
    payload_bytes = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    # A claim: the batch that holds the row, and when the hold lapses if its worker died.
    claim = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Which of the event's transformed forms this is (0 unless a transformation fanned it out),
    # and the transformation versions that made it, in the order they ran.
    part = models.PositiveSmallIntegerField(default=0, db_default=0)
    transformed_by = models.JSONField(null=True, blank=True)
    # A replay is sent again on purpose: from the admin or a replay service (SPEC §5.5).
    replay = models.BooleanField(default=False)
    replay_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
        db_constraint=False,
        db_index=False,  # delivery_replay_of holds only the replays
    )

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            # Routing twice never makes a second delivery; replays are new rows on purpose.
            # The event's received_at adds nothing (an event has one) but is the partition key.
            models.UniqueConstraint(
                fields=["event", "mapping", "event_received_at", "part"],
                condition=models.Q(replay=False),
                name="delivery_unique_route",
            ),
        ]
        indexes = [
            models.Index(
                fields=["mapping", "next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            models.Index(
                fields=["destination", "lease_expires_at"],
                name="delivery_in_flight",
                condition=models.Q(status="in_flight"),
            ),
            models.Index(fields=["destination", "status", "-created_at"], name="delivery_log"),
            models.Index(fields=["created_at"], name="delivery_created"),
            # The delivery log's rarer filters: an error code, replays.
            models.Index(
                fields=["error_code", "-created_at"],
                name="delivery_error",
                condition=~models.Q(error_code=""),
            ),
            models.Index(
                fields=["-created_at"], name="delivery_replay", condition=models.Q(replay=True)
            ),
            models.Index(
                fields=["replay_of"],
                name="delivery_replay_of",
                condition=models.Q(replay_of__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mapping_id}:{self.event_id} {self.status}"


class DeliveryAttempt(models.Model):
    """One HTTP request to a destination and its answer, linked to every delivery it carried.

    On PostgreSQL attempts and their links are partitioned by started_at, with a retention of
    their own.
    """

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="attempts")
    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="attempts")
    deliveries = models.ManyToManyField(Delivery, related_name="attempt_log", through="AttemptLink")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    item_count = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16)
    request_method = models.CharField(max_length=10)
    request_url = models.TextField()
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["destination", "-started_at"], name="attempt_log")]

    def __str__(self) -> str:
        return (
            f"{self.request_method} {self.request_url} → {self.response_status or self.error_code}"
        )


class AttemptLink(models.Model):
    """An attempt carried this delivery; partitioned, and dropped, with the attempt."""

    deliveryattempt = models.ForeignKey(
        DeliveryAttempt, on_delete=models.CASCADE, db_constraint=False
    )
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, db_constraint=False)
    started_at = models.DateTimeField()

    class Meta:
        db_table = "destinations_deliveryattempt_deliveries"

    def __str__(self) -> str:
        return f"{self.deliveryattempt_id} → {self.delivery_id}"


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
