"""The table source form: the connection URL is write-only, the rest is the model's."""

from typing import Any

from django import forms

from infra.encryption import MASK

from .connectors import ReadFailed, connector_for, redact
from .models import TableSource

URL_HELP = "For example postgresql://reader:password@warehouse.internal:5432/analytics."
URL_KEPT_HELP = f"Stored encrypted ({MASK}); leave empty to keep it, type to replace it."


class TableSourceForm(forms.ModelForm):
    connection_url = forms.CharField(
        label="Connection URL",
        help_text=URL_HELP,
        # render_value=False: the stored URL, or one typed into a refused form, never goes
        # back to the browser; "new-password" keeps the browser from filling in a login.
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "size": 60}
        ),
    )

    class Meta:
        model = TableSource
        fields = (
            "name",
            "source",
            "enabled",
            "table",
            "query",
            "timeout_seconds",
            "key_columns",
            "identity_column",
            "identity",
            "emit",
            "event_name",
            "columns",
            "timestamp_column",
            "changes",
            "emit_deleted",
            "schedule_minutes",
        )
        widgets = {
            "query": forms.Textarea(attrs={"rows": 4, "class": "code-editor"}),
            "columns": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.encrypted_connection:
            field = self.fields["connection_url"]
            field.required = False
            field.help_text = URL_KEPT_HELP
            field.widget.attrs["placeholder"] = MASK

    def clean_connection_url(self) -> str:
        url = self.cleaned_data["connection_url"]
        if url:
            try:
                connector_for(url).vet(url)
            except (ValueError, ReadFailed) as error:
                raise forms.ValidationError(redact(str(error), url)) from None
            # Before the model's validation, which then judges the source being saved.
            self.instance.set_connection_url(url)
        return url
