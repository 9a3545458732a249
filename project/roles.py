"""The two roles an installation starts with (docs/security.md, "Roles"), kept in step after every
migrate.

Viewers read the delivery log, health, configuration and table sources' runs, but not
payloads, bodies or a table's rows (they may hold personal data), nor a table source's
connection URL; editors configure sources, table sources, destinations and mappings, attach
transformations to sources and destinations, replay deliveries and see payloads. A
transformation's code runs on every event it is attached to, so writing it takes
`destinations.edit_code`, which no role has: superusers (who can do everything anyway) write it.
The same goes for transformation libraries, whose code the transformations importing them run:
both roles read them, neither adds, changes or deletes one. Code is not personal data: viewers
read it.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

VIEWED_MODELS = (
    ("ingest", "source"),
    ("ingest", "event"),
    ("destinations", "destination"),
    ("destinations", "mapping"),
    ("destinations", "delivery"),
    ("destinations", "deliveryattempt"),
    ("destinations", "transformation"),
    ("destinations", "transformationversion"),
    ("destinations", "transformationlibrary"),
    ("destinations", "destinationtransformation"),
    ("destinations", "sourcetransformation"),
    ("tables", "tablesource"),
    ("tables", "run"),
    ("warehouse", "table"),
    ("warehouse", "column"),
    ("warehouse", "discardcount"),
    ("warehouse", "load"),
)
CONFIGURED_MODELS = (
    ("ingest", "source"),
    ("destinations", "destination"),
    ("destinations", "mapping"),
    ("destinations", "destinationtransformation"),
    ("destinations", "sourcetransformation"),
    ("tables", "tablesource"),
)
VIEWERS = "Viewers"
EDITORS = "Editors"


def role_permissions() -> dict[str, list[tuple[str, str]]]:
    """(app label, codename) per role."""
    viewing = [(app, f"view_{model}") for app, model in VIEWED_MODELS]
    configuring = [
        (app, f"{verb}_{model}")
        for app, model in CONFIGURED_MODELS
        for verb in ("add", "change", "delete")
    ]
    # Replaying deliveries is "changing" them in the admin's terms; changing a transformation
    # without edit_code is attaching sources on its page, its name and code staying read-only.
    extra = [
        ("destinations", "change_delivery"),
        ("ingest", "view_payloads"),
        ("destinations", "change_transformation"),
        # Widening a warehouse's column and reloading a range of its events.
        ("warehouse", "widen_column"),
    ]
    return {VIEWERS: viewing, EDITORS: viewing + configuring + extra}


def ensure_roles(**_signal_kwargs) -> None:
    """Create or update the groups (a post_migrate receiver)."""
    # post_migrate reaches apps one by one: the later apps' permissions may not exist yet.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name, wanted in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in wanted
        ]
        group.permissions.set(permissions)
