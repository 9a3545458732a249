"""The admin's forms: a destination's settings, built from its kind's schema (secrets are
write-only), a mapping's trigger and fields, and an event to test a mapping on."""

import json
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils.html import format_html
from django.utils.safestring import SafeString

from infra.encryption import MASK
from ingest.models import Event
from ingest.selectors import event_payload

from .. import triggers
from ..integrations import get_kind
from ..integrations.base import Action, Kind, Setting
from ..models import Destination, Mapping
from ..services.destinations import merge_secrets

SECRET_KEPT_HELP = f"Stored encrypted ({MASK}); leave empty to keep it, type to replace it."
HOST_CHANGE_HELP = (
    "Another scheme, host or port here clears the stored secrets, unless you type them again "
    "in the same save."
)


def setting_field(setting: Setting) -> forms.Field:
    common: dict[str, Any] = {"label": setting.label, "help_text": setting.help}
    required = setting.required and setting.default is None
    if setting.secret:
        # render_value=False: a stored secret never travels back to the browser.
        widget = forms.PasswordInput(render_value=False)
        return forms.CharField(required=required, widget=widget, strip=False, **common)
    if setting.type == "boolean":
        return forms.BooleanField(required=False, initial=setting.default, **common)
    if setting.type == "number":
        return forms.FloatField(required=required, initial=setting.default, **common)
    if setting.type == "choice":
        choices = [(choice, choice) for choice in setting.choices]
        return forms.ChoiceField(
            choices=choices, required=required, initial=setting.default, **common
        )
    return forms.CharField(required=required, initial=setting.default, **common)


class DestinationForm(forms.ModelForm):
    """Name, sources and enabled, plus one field per setting of `kind` (see destination_form)."""

    kind: Kind
    typed_secrets: dict[str, str]

    class Meta:
        model = Destination
        fields = ("name", "enabled", "keep_order", "sources")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.kind = self.kind.key
        stored_secrets = self.instance.secrets if self.instance.pk else {}
        for setting in self.kind.all_settings:
            field = self.fields[setting.key]
            if setting.key == "base_url":
                # Shown, not filled in: a saved base URL wins over settings that choose the
                # host (LaunchDarkly's events host), so only one typed on purpose is saved.
                field.initial = None
                field.widget.attrs["placeholder"] = self.kind.default_base_url
            if setting.chooses_host:
                field.help_text = f"{field.help_text} {HOST_CHANGE_HELP}".strip()
            if setting.secret and stored_secrets.get(setting.key):
                field.required = False
                field.help_text = SECRET_KEPT_HELP
                field.widget.attrs["placeholder"] = MASK
            elif setting.key in self.instance.settings:
                self.initial[setting.key] = self.instance.settings[setting.key]

    def unchosen(self, setting: Setting) -> Any:
        """The value that means "not chosen": the default base URL, as older forms saved it."""
        return self.kind.default_base_url if setting.key == "base_url" else None

    @classmethod
    def setting_keys(cls, *, advanced: bool) -> list[str]:
        return [s.key for s in cls.kind.all_settings if s.advanced == advanced]

    def clean(self) -> dict[str, Any]:
        # Before the model's own validation runs, so it checks the settings being saved.
        cleaned = super().clean()
        settings = self.kind.all_settings
        self.instance.settings = {
            s.key: cleaned[s.key]
            for s in settings
            if not s.secret and cleaned.get(s.key) not in (None, "", self.unchosen(s))
        }
        # Typed in this save: kept even when the destination now sends to another host.
        self.typed_secrets = {
            s.key: cleaned[s.key] for s in settings if s.secret and cleaned.get(s.key)
        }
        merge_secrets(self.instance, self.typed_secrets)
        return cleaned


def destination_form(kind_key: str) -> type[DestinationForm]:
    kind = get_kind(kind_key)
    fields = {setting.key: setting_field(setting) for setting in kind.all_settings}
    return type(f"{kind.name}DestinationForm", (DestinationForm,), {"kind": kind, **fields})


class PrettyJSONField(forms.JSONField):
    """JSON edited as indented text; a syntax error says where it is."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                json.loads(value)
            except json.JSONDecodeError as error:
                raise forms.ValidationError(
                    f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                    code="invalid",
                ) from None
        return super().to_python(value)


CODE_ATTRS = {"class": "code-editor", "spellcheck": "false", "autocomplete": "off"}


class MappingForm(forms.ModelForm):
    """A mapping's trigger and its fields as pretty JSON; Mapping.clean checks the fields
    against the action's schema and its messages land on the fields."""

    class Meta:
        model = Mapping
        fields = ("name", "enabled", "trigger", "fields", "batch_size", "flush_interval")
        field_classes = {"fields": PrettyJSONField}
        widgets = {
            "trigger": forms.Textarea(attrs={"rows": 2, **CODE_ATTRS}),
            "fields": forms.Textarea(attrs={"rows": 18, **CODE_ATTRS}),
        }

    def clean_trigger(self) -> str:
        trigger = self.cleaned_data["trigger"]
        try:
            triggers.parse(trigger)
        except triggers.TriggerSyntaxError as error:
            raise forms.ValidationError(trigger_error(trigger, error)) from None
        return trigger

    def clean_name(self) -> str:
        # The (destination, name) constraint is skipped by Django, destination not being a
        # form field; without this check a duplicate would fail on insert.
        name = self.cleaned_data["name"]
        others = Mapping.objects.filter(destination_id=self.instance.destination_id, name=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This destination already has a mapping of this name.")
        return name

    def _post_clean(self) -> None:
        # Mapping.clean judges trigger and fields again; after the form refused one of them
        # the model still holds the previous value, and its verdict on that would mislead.
        if not self.has_error("trigger") and not self.has_error("fields"):
            super()._post_clean()


def trigger_error(trigger: str, error: triggers.TriggerSyntaxError) -> SafeString:
    """The parser's message, and the trigger's line with a caret under the offset."""
    before = trigger[: error.offset]
    line_start = before.rfind("\n") + 1
    line_end = trigger.find("\n", error.offset)
    line = trigger[line_start : None if line_end == -1 else line_end]
    caret = " " * (error.offset - line_start) + "^"
    return format_html(
        '{}<pre class="trigger-caret" id="trigger-error-position">{}\n{}</pre>',
        str(error),
        line,
        caret,
    )


def new_mapping_form(destination: Destination, action: Action) -> type[MappingForm]:
    """MappingForm for a new mapping of this destination and action (neither is a field)."""

    class NewMappingForm(MappingForm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.instance.destination = destination
            self.instance.action = action.key

    return NewMappingForm


class SampleEventForm(forms.Form):
    """An event to try a mapping on: pasted JSON, or one of the sources' recent events."""

    event = PrettyJSONField(
        required=False,
        label="Event",
        help_text="A Segment event as JSON, as the Tracking API stores it.",
        widget=forms.Textarea(attrs={"rows": 16, "id": "test-mapping-event", **CODE_ATTRS}),
    )
    # Not a ChoiceField: the list of recent events moves on between showing and posting.
    recent_event = forms.IntegerField(
        required=False,
        label="Or a recent event",
        help_text="Taken instead of the pasted event when chosen.",
        widget=forms.Select(attrs={"id": "recent-event"}),
    )

    def __init__(self, *args: Any, recent: list[Event], source_ids: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.source_ids = source_ids
        self.fields["recent_event"].widget.choices = [("", "—")] + [
            (event.pk, recent_event_label(event)) for event in recent
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen, pasted = cleaned.get("recent_event"), cleaned.get("event")
        if chosen is not None:
            cleaned["event"] = event_payload(chosen, self.source_ids)
            if cleaned["event"] is None:
                raise forms.ValidationError("That event is gone (past retention).")
        elif pasted is None and not self.has_error("event"):
            self.add_error("event", "Paste an event or choose a recent one.")
        elif pasted is not None and not isinstance(pasted, dict):
            self.add_error("event", "An event is a JSON object.")
        return cleaned

    @property
    def chosen_event(self) -> dict[str, Any]:
        return self.cleaned_data["event"]


def recent_event_label(event: Event) -> str:
    what = " ".join(part for part in (event.type, event.name) if part)
    who = event.user_id or event.anonymous_id
    return f"{event.received_at:%Y-%m-%d %H:%M:%S} · {what} · {who} · {event.message_id}"
