"""Hourly tallies the pipeline keeps as it works, in the transaction of the work they count
(infra.tallies.add_counts). Pages read them instead of counting events and deliveries: a
day is 24 rows per key, whatever the traffic. The hourly purge deletes them with the events
(retention), through their index on `hour`.

Received, outcome and latency rows have a `shard`, the writing process's: every dispatcher
of a destination adds to the same hour and outcome, and on one row each would wait for the
others' transactions to end (a row lock held to commit); measured, that halved what
a destination could deliver at 1,000 events/s. Readers sum the shards.
"""

from django.db import models

from ingest.models import Source


class FilteredCount(models.Model):
    """Events a mapping did not take, per hour and reason (no trigger match, integrations)."""

    mapping = models.ForeignKey(
        "destinations.Mapping", on_delete=models.CASCADE, related_name="filtered"
    )
    hour = models.DateTimeField()
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mapping", "hour", "reason"], name="filtered_count_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="filtered_count_hour")]

    def __str__(self) -> str:
        return f"{self.reason}: {self.count}"


class ReceivedCount(models.Model):
    """Events of a source stored in an hour (by their received_at), added by the router as it
    routes them: ingest writes no counter, a row per source would serialize its requests."""

    # No index of its own: the unique key starts with it.
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="received_counts", db_index=False
    )
    hour = models.DateTimeField()
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "hour", "shard"], name="received_count_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="received_count_hour")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.hour:%Y-%m-%d %H}h: {self.count}"


class OutcomeCount(models.Model):
    """What became of a destination's deliveries in an hour: how many were delivered, failed
    for good, or scheduled for a retry (a delivery retried three times counts three), by the
    time the dispatcher recorded it. Deliveries born failed (a payload the mapping cannot
    make) are counted by the router."""

    destination = models.ForeignKey(
        "destinations.Destination",
        on_delete=models.CASCADE,
        related_name="outcome_counts",
        db_index=False,  # the unique key starts with it
    )
    hour = models.DateTimeField()
    outcome = models.CharField(max_length=16)  # delivered, failed or retrying
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "hour", "outcome", "shard"], name="outcome_count_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="outcome_count_hour")]

    def __str__(self) -> str:
        return f"{self.outcome}: {self.count}"


class LatencyCount(models.Model):
    """A histogram of end-to-end latency (event received → delivered) per destination and
    hour of delivery: how many original deliveries (replays measure the operator's wait)
    took at most `bucket_ms`, and more than the bucket below (see delivery/tallies.py)."""

    destination = models.ForeignKey(
        "destinations.Destination",
        on_delete=models.CASCADE,
        related_name="latency_counts",
        db_index=False,  # the unique key starts with it
    )
    hour = models.DateTimeField()
    # The bucket's upper bound, in milliseconds, so rows keep their meaning if the bounds
    # change; the bucket past the last bound stores the largest integer.
    bucket_ms = models.PositiveIntegerField()
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "hour", "bucket_ms", "shard"],
                name="latency_count_unique",
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="latency_count_hour")]

    def __str__(self) -> str:
        return f"≤ {self.bucket_ms} ms: {self.count}"
