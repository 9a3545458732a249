import subprocess
import sys

from celery.signals import worker_process_init

from project.celery import freeze_what_startup_loaded
from tests.servers import BASE_DIR

FREEZE_COUNT_AFTER_THE_SIGNAL = """
import gc
from celery.signals import worker_process_init
import project.celery
worker_process_init.send(sender=None)
print(gc.get_freeze_count())
"""


def test_a_worker_process_freezes_what_it_loaded_before_its_first_task():
    """In a process of its own: freezing this one would change how the suite collects."""
    receivers = [receiver() for _, receiver in worker_process_init.receivers]
    assert freeze_what_startup_loaded in receivers

    checked = subprocess.run(
        [sys.executable, "-c", FREEZE_COUNT_AFTER_THE_SIGNAL],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )

    assert int(checked.stdout) > 0
