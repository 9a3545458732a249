"""Transformations: JavaScript an event goes through before a destination's mappings (attached
to the destination) or before routing (attached to a source), with every version kept."""

from django.db import models

from ingest.models import Source

from .. import sandbox


class Transformation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # What new events run; earlier code stays in `versions`.
    current_version = models.ForeignKey(
        "TransformationVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("edit_code", "Can write a transformation's code")]

    def __str__(self) -> str:
        return self.name

    @property
    def code(self) -> str:
        return self.current_version.code if self.current_version else ""


class TransformationVersion(models.Model):
    """A transformation's code as it was saved; deliveries name the versions that made them."""

    transformation = models.ForeignKey(
        Transformation, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    code = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    # Kept by the router, so that health and the admin can say what is failing without
    # reading the deliveries.
    failures = models.PositiveBigIntegerField(default=0)
    last_failure = models.TextField(blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["transformation", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["transformation", "number"], name="transformation_version_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transformation.name} v{self.number}"

    def script(self, limits: sandbox.Limits | None = None) -> sandbox.Script:
        return sandbox.Script(self.code, limits)


class DestinationTransformation(models.Model):
    """Runs for every event on its way to the destination, before its mappings' triggers."""

    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="transformation_links"
    )
    # Deleting a transformation in use would let events through untransformed (PII, say).
    transformation = models.ForeignKey(
        Transformation, on_delete=models.PROTECT, related_name="destination_links"
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower runs first.")

    class Meta:
        ordering = ["destination", "position", "pk"]
        verbose_name = "destination transformation"
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "transformation"], name="destination_transformation_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transformation} → {self.destination}"


class SourceTransformation(models.Model):
    """Runs for every event of the source before routing, for every destination."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="transformation_links"
    )
    transformation = models.ForeignKey(
        Transformation, on_delete=models.PROTECT, related_name="source_links"
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower runs first.")

    class Meta:
        ordering = ["source", "position", "pk"]
        verbose_name = "source transformation"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "transformation"], name="source_transformation_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.transformation}"
