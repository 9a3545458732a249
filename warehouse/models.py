"""The schema registry (docs/warehouse.md, "The schema registry"): what each warehouse
destination's tables and columns are, where their values were discarded, and what each load
did. The warehouse's own catalog decides the columns' types; the registry remembers what it
cannot tell: when a column was first seen, from which event, and the loads' history."""

from django.db import models


class Table(models.Model):
    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="warehouse_tables"
    )
    schema = models.CharField(max_length=63)
    name = models.CharField(max_length=63)
    first_seen = models.DateTimeField()
    last_loaded = models.DateTimeField()
    rows_loaded = models.BigIntegerField(default=0)  # by every load, reloads included
    # Names that came past the column cap and live in the overflow column instead.
    overflowed = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["destination", "schema", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "schema", "name"], name="warehouse_table_unique"
            )
        ]
        permissions = [("widen_column", "Can widen a column and reload a time range")]

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


class Column(models.Model):
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=63)
    type = models.CharField(max_length=40)
    first_seen = models.DateTimeField()
    first_row_id = models.CharField(max_length=255, help_text="The messageId that brought it.")

    class Meta:
        ordering = ["table", "name"]
        constraints = [
            models.UniqueConstraint(fields=["table", "name"], name="warehouse_column_unique")
        ]

    def __str__(self) -> str:
        return f"{self.table}.{self.name}"


class DiscardCount(models.Model):
    """How many values of a column the warehouse's `discards` table holds, for one reason,
    as of the last load of the table."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="discard_counts")
    column = models.CharField(max_length=255)
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["table", "column", "reason"]
        constraints = [
            models.UniqueConstraint(
                fields=["table", "column", "reason"], name="warehouse_discard_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.count} {self.reason}"


class Load(models.Model):
    """One load of a batch: what the attempt log calls a request."""

    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="warehouse_loads"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    events = models.PositiveIntegerField()
    rows = models.PositiveIntegerField(default=0)
    # Rows per table ({"app.tracks": 10, ...}), new columns and discards per table.
    tables = models.JSONField(default=dict)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["destination", "-started_at"], name="warehouse_load_recent")
        ]

    def __str__(self) -> str:
        return f"load of {self.events} events at {self.started_at:%Y-%m-%d %H:%M:%S}"
