import gc

from celery.signals import worker_process_init

from project.celery import freeze_what_startup_loaded


def test_a_worker_process_freezes_what_it_loaded_before_its_first_task():
    receivers = [receiver() for _, receiver in worker_process_init.receivers]
    assert freeze_what_startup_loaded in receivers

    try:
        freeze_what_startup_loaded()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
