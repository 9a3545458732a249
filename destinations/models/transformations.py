"""Transformations: JavaScript an event goes through before a destination's mappings (attached
to the destination) or before routing (attached to a source), with every version kept."""

import re

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
    # The code of each library the version imports, by import name, as it was when the version
    # was saved: a version runs the same code for good, and saving a library saves a new
    # version of each transformation that imports it.
    libraries = models.JSONField(default=dict, blank=True)
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
        return sandbox.Script(self.code, limits, self.libraries)


class TransformationLibrary(models.Model):
    """Code that transformations import, as in RudderStack: `import { f } from "libraryName"`,
    the name in camelCase."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    code = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "transformation library"
        verbose_name_plural = "transformation libraries"

    def __str__(self) -> str:
        return self.name

    @property
    def handle(self) -> str:
        return import_name(self.name)


def import_name(name: str) -> str:
    """RudderStack's import name of a library: its name in camelCase ("PII tools" →
    "piiTools", "Get Finance Data" → "getFinanceData")."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    if not words:
        return ""
    return words[0].lower() + "".join(word[:1].upper() + word[1:].lower() for word in words[1:])


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
