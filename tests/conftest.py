import os
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.servers.basehttp import WSGIRequestHandler
from pytest_django.fixtures import _set_suffix_to_test_databases

from infra import partitions
from ingest.models import Source
from project.celery import app as celery_app
from tests.destinations.delivery.sinks import Sink


def pytest_configure(config) -> None:
    # The live server writes headers and body separately; with Nagle on, each keep-alive
    # request then waits out the client's delayed ACK (40 ms).
    WSGIRequestHandler.disable_nagle_algorithm = True
    # Each xdist worker gets a Redis database of its own, emptied, so queues never mix.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = 1 + int(worker.removeprefix("gw")) % 15
    url = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{number}"
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    celery_app.conf.broker_url = url
    redis.Redis.from_url(url).flushdb()
    settings.SECRETS_KEYS = [Fernet.generate_key().decode()]
    # Sinks listen on localhost; the guard's own tests turn it back on.
    settings.ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, testrun_uid):
    """Runs at the same time on one machine (two checkouts, two engineers) each get databases
    of their own: the run's id goes after pytest-django's per-worker suffix."""
    _set_suffix_to_test_databases(testrun_uid[:8])


@pytest.fixture(autouse=True)
def fresh_partition_list():
    """A test's rollback can take back partitions this process listed: list them anew."""
    partitions.forget_listed()


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(name="Test app")


@pytest.fixture
def api(live_server, source) -> httpx.Client:
    """An HTTP client for a live server, authenticated as `source` (Basic, key + colon)."""
    with httpx.Client(base_url=live_server.url, auth=(source.write_key, ""), timeout=30) as client:
        yield client


@pytest.fixture
def sinks() -> Iterator[Callable[..., Sink]]:
    """Makes local HTTP sinks (see tests/destinations/delivery/sinks.py), closed after the test."""
    made: list[Sink] = []

    def make(**kwargs) -> Sink:
        sink = Sink(**kwargs)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


@pytest.fixture
def anonymous_api(live_server) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def member_of(group: str, django_user_model, client):
    """`client`, logged in as a staff user of the role `group` (project/roles.py)."""
    user = django_user_model.objects.create_user(f"{group.lower()}-user", password="pw")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(db, django_user_model, client):
    return member_of("Viewers", django_user_model, client)


@pytest.fixture
def editor(db, django_user_model, client):
    return member_of("Editors", django_user_model, client)
