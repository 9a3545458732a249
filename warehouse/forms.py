"""The registry's two forms: widen a column, reload a time range."""

from typing import Any

from django import forms

from . import selectors, types
from .models import Table


def datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class WidenForm(forms.Form):
    column = forms.ChoiceField()
    to = forms.ChoiceField(label="To")

    def __init__(self, table: Table, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widenings = {w.column.name: w for w in selectors.widenings(table)}
        self.fields["column"].choices = [
            (name, f"{name} ({w.column.type})") for name, w in self.widenings.items()
        ]
        wider = {t for w in self.widenings.values() for t in w.to}
        self.fields["to"].choices = [(t, types.display(t)) for t in types.TYPES if t in wider]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        widening = self.widenings.get(data.get("column", ""))
        if widening and data.get("to") not in widening.to:
            raise forms.ValidationError(
                f"{widening.column.type} can be widened to "
                f"{' or '.join(types.display(t) for t in widening.to)} only"
            )
        return data


class ReloadForm(forms.Form):
    start = forms.DateTimeField(label="From", widget=datetime_input())
    end = forms.DateTimeField(label="To", widget=datetime_input())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise forms.ValidationError("“From” must come before “To”.")
        return data
