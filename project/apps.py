from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class ProjectConfig(AppConfig):
    """Project-wide pieces: the `bootstrap` command and the roles kept after migrate."""

    name = "project"
    verbose_name = "Switchyard"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers them)
        from .roles import ensure_roles

        # post_migrate goes only to apps with models, which this one has not.
        post_migrate.connect(ensure_roles, sender=apps.get_app_config("destinations"))


class SwitchyardAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the overview as its home: `admin.site` and `admin.register`
    everywhere then mean this site. (Named in INSTALLED_APPS; default = False keeps the
    "project" entry on ProjectConfig.)"""

    default = False
    default_site = "project.admin_site.SwitchyardAdminSite"
