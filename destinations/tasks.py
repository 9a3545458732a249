"""Celery tasks: each takes ids, answers its doorbell and calls a service (docs/delivery.md,
"The pipeline")."""

from celery import shared_task

from infra import partitions

from .delivery import doorbell, holds, retention, routing, sweeper
from .delivery.dispatch import dispatch_mapping


@shared_task(name="destinations.route")
def route() -> None:
    doorbell.answered(doorbell.ROUTER_FLAG)
    routing.route_new_events()


@shared_task(name="destinations.dispatch")
def dispatch(mapping_id: int) -> None:
    doorbell.answered(doorbell.dispatch_flag(mapping_id))
    doorbell.answered(doorbell.later_flag(mapping_id))
    dispatch_mapping(mapping_id)


@shared_task(name="destinations.sweep")
def sweep() -> None:
    sweeper.sweep()


@shared_task(name="destinations.release_held")
def release_held() -> None:
    holds.release_orphans()


@shared_task(name="destinations.purge")
def purge() -> None:
    retention.purge_expired()


@shared_task(name="destinations.partitions")
def create_partitions() -> None:
    partitions.ensure_partitions()
