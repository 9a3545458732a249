"""System checks of `manage.py check --deploy` that Django does not make itself."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def metrics_token(app_configs, **kwargs) -> list[Warning]:
    if settings.METRICS_TOKEN:
        return []
    return [
        Warning(
            "METRICS_TOKEN is empty, so /metrics answers 403 while DEBUG is off.",
            hint="Set METRICS_TOKEN and have Prometheus send it as a bearer token.",
            id="switchyard.W001",
        )
    ]
