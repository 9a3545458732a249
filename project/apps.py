from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Holds the project-wide management commands (`up`, `bootstrap`)."""

    name = "project"
    verbose_name = "Switchyard"
