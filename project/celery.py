import gc
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_what_startup_loaded(**_: object) -> None:
    """What a worker process holds once started (Django, the apps, the catalog) lives as long
    as it does: frozen, the collector's full passes no longer walk it. Routing allocates
    enough to run those passes often; on bench/poison.py's streams this took a sixth off the
    router's CPU, and more off a stream of deep, hostile events."""
    gc.freeze()


@task_prerun.connect
@task_postrun.connect
def close_obsolete_connections(**_: object) -> None:
    """A task's connections live as long as a request's (CONN_MAX_AGE, settings.py); Celery
    itself no longer closes them after each task (CELERY_DB_REUSE_MAX)."""
    close_old_connections()
