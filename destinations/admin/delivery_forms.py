"""The delivery log's forms: the from / to filter and the time range replay."""

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone

from ingest.models import Source

from ..models import Destination
from ..services.replays import replay_destination, reroute_source


class CreatedRangeForm(forms.Form):
    created_from = forms.DateTimeField(required=False, label="From")
    created_to = forms.DateTimeField(required=False, label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        require_order(data.get("created_from"), data.get("created_to"))
        return data


def datetime_input() -> forms.DateTimeInput:
    """The browser's date and time picker; it reads and writes "2025-01-31T13:45"."""
    return forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ReplayRangeForm(forms.Form):
    destination = forms.ModelChoiceField(Destination.objects.order_by("name"))
    source = forms.ModelChoiceField(
        Source.objects.order_by("name"),
        required=False,
        help_text="Empty: send the destination's delivered and failed deliveries created in the "
        "range again. A source: route its events received in the range through the "
        "destination's enabled mappings again (triggers apply).",
    )
    start = forms.DateTimeField(label="From", widget=datetime_input())
    end = forms.DateTimeField(label="To", widget=datetime_input())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        require_order(data.get("start"), data.get("end"))
        return data

    def replay(self) -> tuple[int, str]:
        """Runs the replay the form asks for; returns the deliveries queued and what was done."""
        destination, source = self.cleaned_data["destination"], self.cleaned_data["source"]
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        span = f"between {moment(start)} and {moment(end)}"
        if source:
            queued = reroute_source(source, destination, start, end)
            return queued, f"Re-routed the events {source} received {span} to {destination}"
        queued = replay_destination(destination, start, end)
        return queued, f"Replayed the deliveries to {destination} created {span}"


def require_order(start: datetime | None, end: datetime | None) -> None:
    if start and end and start >= end:
        raise forms.ValidationError("“From” must come before “To”.")


def moment(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
