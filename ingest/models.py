import secrets

from django.db import models


def new_write_key() -> str:
    # 32 random bytes give 43 URL-safe characters: unguessable and safe in Basic auth.
    return secrets.token_urlsafe(32)


class Source(models.Model):
    """Where events come from: an app or SDK that posts with the source's write key."""

    name = models.CharField(max_length=200, unique=True)
    write_key = models.CharField(max_length=200, unique=True, default=new_write_key)
    enabled = models.BooleanField(default=True)
    rate_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events a second this source may send; more are refused with 429 (SDKs retry). "
        "Empty: the SOURCE_RATE_LIMIT setting; 0: no limit.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """One accepted message, normalized; `payload` is what destinations' mappings read.

    On PostgreSQL the table is partitioned by received_at (infra/partitions.py): the primary
    key there is (id, received_at), and event_unique_message is an index of each partition,
    not of the table, so it holds within a partition; storage.insert checks the partitions
    of the dedup window besides.
    """

    # No index of its own: event_source_received starts with source_id and serves every
    # lookup by source, and a second index of a handful of values made each INSERT dearer.
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    message_id = models.CharField(max_length=100)
    type = models.CharField(max_length=16)
    # The track event name, or the page/screen name: what people search for.
    name = models.CharField(max_length=255, blank=True)
    # Indexed copies, cut to 255 characters; the payload keeps the full values.
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    payload = models.JSONField()
    # Set by the router once the event's deliveries exist; NULL marks work still to do.
    routed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # messageId first: the same index answers the delivery log's search by messageId.
            models.UniqueConstraint(fields=["message_id", "source"], name="event_unique_message"),
        ]
        permissions = [
            ("view_payloads", "Can see payloads: events, requests, responses, error details"),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="event_received"),
            models.Index(fields=["source", "-received_at"], name="event_source_received"),
            models.Index(fields=["user_id"], name="event_user"),
            models.Index(
                fields=["id"], name="event_unrouted", condition=models.Q(routed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or ''} {self.message_id}".replace("  ", " ")


class Rejection(models.Model):
    """Dropped messages of a source, counted per hour and reason, with the latest example."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="rejections")
    hour = models.DateTimeField()
    code = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)
    example = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "hour", "code"], name="rejection_unique"),
        ]
        # Retention deletes old hours through it (destinations/delivery/retention.py).
        indexes = [models.Index(fields=["hour"], name="rejection_hour")]

    def __str__(self) -> str:
        return f"{self.code}: {self.count}"
