"""Test transformation: code tried on one event (pasted, or one of a source's recent events)
with the metadata a source and destination would give, and what the destination's mappings
would make of each event that comes out. The page runs the code in a fresh sandbox and saves
nothing; the code in its form is for trying, whatever the user may write."""

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ingest.models import Source
from ingest.selectors import latest_events

from ..models import Destination, Transformation
from ..services.transformations import MappedForm, Trial, try_code
from .forms import CODE_ATTRS, SampleEventForm

RECENT_EVENTS = 20
PAYLOADS = "ingest.view_payloads"
EDIT_CODE = "destinations.edit_code"
TEMPLATE = "admin/destinations/transformation/try.html"
# The sandbox's messages end with the author's line: "SyntaxError: ... (line 3)".
LINE_AT_END = re.compile(r"\(line (\d+)\)$")


def code_textarea(element_id: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": 28, "id": element_id, **CODE_ATTRS})


class CodeField(forms.CharField):
    """JavaScript as typed, with the browser's CRLF line ends made LF: otherwise saving the
    same code from a browser would make a new version."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)

    def to_python(self, value: Any) -> str:
        return super().to_python(value).replace("\r\n", "\n")


def with_code_line(code: str, message: str) -> SafeString:
    """The sandbox's message, and the line of `code` it names, so that it is seen at once."""
    found = LINE_AT_END.search(message)
    return with_line(code, int(found[1]) if found else 0, message)


def with_line(code: str, number: int, message: str) -> SafeString:
    """`message`, and line `number` of `code` quoted under it when there is one."""
    lines = code.splitlines()
    if not 0 < number <= len(lines):
        return format_html("{}", message)
    return format_html(
        '{}<pre class="trigger-caret code-error-line">{}: {}</pre>',
        message,
        number,
        lines[number - 1],
    )


class TrialForm(forms.Form):
    code = CodeField(
        widget=code_textarea("trial-code"),
        help_text="Edit it freely to try a change: this page never saves it.",
    )
    source = forms.ModelChoiceField(
        Source.objects.order_by("name"),
        required=False,
        help_text="Its id and name go in the metadata; its recent events are listed below.",
    )
    destination = forms.ModelChoiceField(
        Destination.objects.order_by("name"),
        required=False,
        help_text="Its id, name and type go in the metadata, and its enabled mappings are "
        "tried on each event that comes out.",
    )


@dataclass(frozen=True)
class Output:
    """One event the code returned, and what each of the destination's mappings makes of it."""

    number: int
    event: dict[str, Any]
    mapped: list[MappedForm]


@dataclass(frozen=True)
class ShownTrial:
    trial: Trial
    code: str
    destination: Destination | None

    @property
    def outputs(self) -> list[Output]:
        events = self.trial.events
        mapped = self.trial.mapped or [[] for _ in events]
        return [Output(n, *pair) for n, pair in enumerate(zip(events, mapped, strict=True))]

    @property
    def dropped(self) -> bool:
        return not self.trial.error and not self.trial.events

    @property
    def error(self) -> SafeString:
        return with_code_line(self.code, self.trial.error)

    @property
    def elapsed(self) -> str:
        return f"{self.trial.elapsed_ms:.2f} ms"


def trial_view(
    request: HttpRequest, transformation: Transformation, context: dict[str, Any]
) -> HttpResponse:
    """The page; `context` is the admin's (site, opts, title)."""
    source_id = request.POST.get("source")
    if request.method != "POST":
        initial = starting_values(request, transformation)
        source_id = initial["source"]
        trial_form = TrialForm(initial=initial)
        event_form = sample_event_form(request, source_id)
    elif "list_events" in request.POST:
        # Another source chosen: its events listed, what was typed kept as it was typed.
        trial_form = TrialForm(initial=request.POST.dict())
        event_text = InvalidJSONInput(request.POST.get("event", ""))
        event_form = sample_event_form(request, source_id, initial={"event": event_text})
    else:
        trial_form = TrialForm(request.POST)
        event_form = sample_event_form(request, source_id, data=request.POST)
    shown = None
    if trial_form.is_bound and trial_form.is_valid():
        refuse_unsaved_code(request, transformation, trial_form)
    if trial_form.is_bound and all([trial_form.is_valid(), event_form.is_valid()]):
        chosen = trial_form.cleaned_data
        event = event_form.chosen_event
        trial = try_code(chosen["code"], event, chosen["source"], chosen["destination"])
        shown = ShownTrial(trial, chosen["code"], chosen["destination"])
        # The event tried, ready to edit; a chosen recent one becomes the text.
        event_form = sample_event_form(request, source_id, initial={"event": event})
    context |= {
        "original": transformation,
        "form": trial_form,
        "event_form": event_form,
        "shown": shown,
        "can_list_events": request.user.has_perm(PAYLOADS),
    }
    return TemplateResponse(request, TEMPLATE, context)


def refuse_unsaved_code(
    request: HttpRequest, transformation: Transformation, trial_form: "TrialForm"
) -> None:
    """Running code is writing code: without `edit_code`, only a saved version of this
    transformation may run here (the web process is no place for anyone's script)."""
    if request.user.has_perm(EDIT_CODE):
        return
    if not transformation.versions.filter(code=trial_form.cleaned_data["code"]).exists():
        trial_form.add_error(
            "code",
            "Only a saved version of this transformation can be tried without the permission "
            "to write code.",
        )


def starting_values(request: HttpRequest, transformation: Transformation) -> dict[str, Any]:
    """The current code (or the version asked for), and a source and destination it is
    attached to, so that a first Run needs nothing more than an event."""
    code = transformation.code
    if (version := request.GET.get("version", "")).isdigit():
        asked = transformation.versions.filter(pk=version).values_list("code", flat=True)
        code = asked.first() or code
    source_link = transformation.source_links.order_by("position", "pk").first()
    destination_link = transformation.destination_links.order_by("position", "pk").first()
    destination_id = destination_link.destination_id if destination_link else None
    source_id = source_link.source_id if source_link else None
    if source_id is None and destination_id is not None:
        source_id = (
            Source.objects.filter(destinations=destination_id)
            .order_by("name")
            .values_list("pk", flat=True)
            .first()
        )
    return {"code": code, "source": source_id, "destination": destination_id}


def sample_event_form(request: HttpRequest, source_id: Any, **kwargs: Any) -> SampleEventForm:
    """The event to try: pasted, or one of the chosen source's recent events for those who may
    read payloads (the list is empty for others, and a posted event id finds nothing)."""
    if not request.user.has_perm(PAYLOADS):
        return SampleEventForm(recent=[], source_ids=[], **kwargs)
    source_ids = [int(source_id)] if str(source_id or "").isdigit() else []
    recent = latest_events(source_ids, RECENT_EVENTS, with_payload=False) if source_ids else []
    # Any source's event: the one picked may be of the source chosen before this one.
    posted = "data" in kwargs
    every_source = list(Source.objects.values_list("pk", flat=True)) if posted else []
    return SampleEventForm(recent=recent, source_ids=every_source, **kwargs)
