"""Table sources: a database table or query whose rows become events, diffed run by run."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from infra import encryption
from ingest.models import Source


def column_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class TableSource(models.Model):
    class Emit(models.TextChoices):
        TRACK = "track", "a track event per row"
        IDENTIFY = "identify", "an identify per row"

    class Identity(models.TextChoices):
        USER_ID = "userId", "userId"
        ANONYMOUS_ID = "anonymousId", "anonymousId"

    class Changes(models.TextChoices):
        ADDED = "added", "added rows"
        ADDED_CHANGED = "added_changed", "added and changed rows"

    name = models.CharField(max_length=200, unique=True)
    source = models.ForeignKey(
        Source,
        on_delete=models.CASCADE,
        related_name="table_sources",
        help_text="The rows become events of this source, sent to its destinations.",
    )
    # A Fernet token of {"url": ...} (docs/security.md, "Secrets at rest"): read through
    # `connection_url`.
    encrypted_connection = models.TextField(editable=False)
    table = models.CharField(
        max_length=300, blank=True, help_text="A table or view, e.g. ml.customer_scores."
    )
    query = models.TextField(blank=True, help_text="Or a SELECT; it runs read-only.")
    key_columns = models.CharField(
        max_length=500, help_text="The column (or columns, comma-separated) naming a row."
    )
    identity_column = models.CharField(max_length=200)
    identity = models.CharField(max_length=20, choices=Identity, default=Identity.USER_ID)
    emit = models.CharField(max_length=20, choices=Emit, default=Emit.TRACK)
    event_name = models.CharField(max_length=200, blank=True, help_text="For track events.")
    columns = models.TextField(
        blank=True,
        help_text="Property (or trait) columns, comma-separated; empty: all others.",
    )
    timestamp_column = models.CharField(max_length=200, blank=True)
    changes = models.CharField(max_length=20, choices=Changes, default=Changes.ADDED_CHANGED)
    emit_deleted = models.BooleanField(
        default=False, help_text="Send an event for a row gone since the previous run."
    )
    schedule_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Run every N minutes; empty: only when run by hand."
    )
    timeout_seconds = models.PositiveIntegerField(
        default=300, help_text="The longest any one statement (a chunk's fetch) may take."
    )
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def connection_url(self) -> str:
        return encryption.decrypt(self.encrypted_connection).get("url", "")

    def set_connection_url(self, url: str) -> None:
        self.encrypted_connection = encryption.encrypt({"url": url})

    @property
    def keys(self) -> list[str]:
        return column_list(self.key_columns)

    @property
    def chosen_columns(self) -> list[str]:
        return column_list(self.columns)

    def clean(self) -> None:
        if bool(self.table.strip()) == bool(self.query.strip()):
            raise ValidationError("Give a table or a query, not both.")
        if self.emit == self.Emit.TRACK and not self.event_name.strip():
            raise ValidationError({"event_name": "A track event needs a name."})
        if not self.keys:
            raise ValidationError({"key_columns": "Name at least one key column."})
        if self.schedule_minutes == 0:
            raise ValidationError({"schedule_minutes": "At least 1 minute, or empty."})


class Run(models.Model):
    """One sync of a table source: what it read, what it emitted, how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"

    table_source = models.ForeignKey(
        TableSource, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    trigger = models.CharField(max_length=10, choices=Trigger)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with each chunk: a running run whose heartbeat stopped lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(default=0)
    added = models.PositiveBigIntegerField(default=0)
    changed = models.PositiveBigIntegerField(default=0)
    deleted = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    # Rows that made no event: refused by the Tracking API's checks, or a key seen twice.
    rejected = models.PositiveBigIntegerField(default=0)
    events = models.PositiveBigIntegerField(default=0)
    # unreachable, refused, query, read_only, timeout, columns, disabled, worker_lost, internal
    error_kind = models.CharField(max_length=20, blank=True)
    # May quote row values (a database's error does): shown to who may see rows.
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # One run at a time per table source: two would diff against each other's state.
            models.UniqueConstraint(
                fields=["table_source"],
                condition=Q(status__in=["queued", "running"]),
                name="run_one_active",
            ),
        ]
        indexes = [
            models.Index(fields=["table_source", "-queued_at"], name="run_source_queued"),
            models.Index(fields=["queued_at"], name="run_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.table_source} run {self.pk}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class RowState(models.Model):
    """What the previous runs saw of a row: the diff's memory. `fingerprint` NULL: deleted."""

    table_source = models.ForeignKey(
        TableSource, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # 128-bit digests as uuids: fixed-width, compact, and JSON can carry them.
    key_digest = models.UUIDField()
    # The key values and the identity, for the event of the row's deletion.
    key = models.TextField()
    identity = models.TextField()
    fingerprint = models.UUIDField(null=True)
    # Counts the row's changes, so that a row changed back to an earlier content still
    # gets a new messageId (the dedup window would drop a repeated one).
    version = models.PositiveIntegerField(default=0)
    seen_run = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table_source", "key_digest"], name="rowstate_key"),
        ]

    def __str__(self) -> str:
        return self.key
