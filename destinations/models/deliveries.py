"""Deliveries and their attempts: the pipeline's log, partitioned by time on PostgreSQL."""

from collections.abc import Sequence

from django.db import models


class DeliveryQuerySet(models.QuerySet):
    def of(self, deliveries: Sequence["Delivery"]) -> "DeliveryQuerySet":
        """These rows, looked for only in the partitions that hold them (anything with a pk
        and an event_received_at will do: lanes.Entry too)."""
        if not deliveries:
            return self.none()
        received = [delivery.event_received_at for delivery in deliveries]
        return self.filter(
            pk__in=[delivery.pk for delivery in deliveries],
            event_received_at__range=(min(received), max(received)),
        )


# What still has to reach the destination, a held delivery included.
UNFINISHED = ["pending", "retrying", "in_flight", "held"]


class Delivery(models.Model):
    """One event for one mapping: its mapped payload and where it stands (docs/delivery.md,
    "Statuses and error codes").

    On PostgreSQL deliveries are partitioned by their event's received_at, beside the event's
    own partition, so retention drops an event with all its deliveries (replays included).
    Foreign keys into partitioned tables exist in Django only: PostgreSQL would want the
    partition key in them.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        HELD = "held"
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
        "destinations.Mapping", on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # No index of its own: delivery_log and delivery_in_flight start with destination_id.
    destination = models.ForeignKey(
        "destinations.Destination",
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
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
    # A replay is sent again on purpose: from the admin or a replay service (docs/delivery.md,
    # "Replay").
    replay = models.BooleanField(default=False)
    # Per-user order (docs/delivery.md, "Per-user order"): the user's lane at the destination
    # (a hash of userId, else anonymousId; empty when the destination keeps no order or the
    # event names no user), where the delivery stands in it, and what a held one waits on.
    lane = models.BigIntegerField(null=True, blank=True)
    position = models.BigIntegerField(null=True, blank=True)
    waits_on = models.BigIntegerField(null=True, blank=True)
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
            # In the claim's order to the last column, so that a claim reads the first N
            # entries of each partition and stops, whatever the backlog (batching.py).
            models.Index(
                fields=["mapping", "next_attempt_at", "id"],
                name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            # A lane's unfinished deliveries in its order: a claim reads the first few of each
            # lane it would send to (delivery/lanes.py).
            models.Index(
                fields=["destination", "lane", "position", "id"],
                name="delivery_lane",
                condition=models.Q(lane__isnull=False, status__in=UNFINISHED),
            ),
            # The held ones alone, to release them without reading a lane's whole backlog.
            models.Index(
                fields=["destination", "lane", "position", "id"],
                name="delivery_held",
                condition=models.Q(status="held"),
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

    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="attempts"
    )
    mapping = models.ForeignKey(
        "destinations.Mapping", on_delete=models.CASCADE, related_name="attempts"
    )
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
