"""The destination form, built from the kind's settings schema; secrets are write-only."""

from typing import Any

from django import forms

from .encryption import MASK
from .integrations import get_kind
from .integrations.base import Kind, Setting
from .models import Destination
from .services import merge_secrets

SECRET_KEPT_HELP = f"Stored encrypted ({MASK}); leave empty to keep it, type to replace it."


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

    class Meta:
        model = Destination
        fields = ("name", "enabled", "sources")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.kind = self.kind.key
        stored_secrets = self.instance.secrets if self.instance.pk else {}
        for setting in self.kind.all_settings:
            field = self.fields[setting.key]
            if setting.secret and stored_secrets.get(setting.key):
                field.required = False
                field.help_text = SECRET_KEPT_HELP
                field.widget.attrs["placeholder"] = MASK
            elif setting.key in self.instance.settings:
                self.initial[setting.key] = self.instance.settings[setting.key]

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
            if not s.secret and cleaned.get(s.key) not in (None, "")
        }
        merge_secrets(
            self.instance, {s.key: cleaned.get(s.key) or "" for s in settings if s.secret}
        )
        return cleaned


def destination_form(kind_key: str) -> type[DestinationForm]:
    kind = get_kind(kind_key)
    fields = {setting.key: setting_field(setting) for setting in kind.all_settings}
    return type(f"{kind.name}DestinationForm", (DestinationForm,), {"kind": kind, **fields})
