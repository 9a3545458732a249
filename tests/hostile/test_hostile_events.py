"""Hostile events through the whole pipeline (docs/security.md, "Hostile input"): generated
batches — deep, wide, unicode and NUL, huge numbers, odd types where strings belong, hostile
URLs, keys such as __proto__ — go through /v1/batch on a live server, the router (the mappings
of every kind of destination, and a transformation) and the dispatcher. Whatever they are,
every stored event ends routed, every delivery delivered, waiting or failed with a reason, no
answer is a 5xx, and a normal event of another source sent after them is delivered.

The examples are few for CI; `make hostile` runs many more (HYPOTHESIS_PROFILE=long).
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destinations.delivery.dispatch import dispatch_mapping
from destinations.delivery.routing import route_new_events
from destinations.models import Delivery, Destination, Mapping
from destinations.services.destinations import create_destination
from destinations.services.transformations import create_transformation, set_destination_chain
from ingest.models import Event, Source
from tests.destinations.delivery import scenario

settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("long", settings.get_profile("ci"), max_examples=500)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

KEYS = st.sampled_from(
    ["__proto__", "constructor", "prototype", "toString", "valueOf", "", "$", "a.b", "userId"]
) | st.text(max_size=12)
URLS = st.sampled_from(
    [
        "http://[::1",
        "http://169.254.169.254/latest/meta-data",
        "http://[64:ff9b::a9fe:a9fe]/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://localhost:1/",
        "https://example.com/" + "a" * 5000,
        "\x00",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | URLS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


def nested(depth: int) -> dict:
    value: dict = {"leaf": True}
    for _ in range(depth):
        value = {"a": value}
    return value


DEEP = st.integers(min_value=1, max_value=400).map(nested)
WIDE = st.integers(min_value=100, max_value=3000).map(lambda n: {f"k{i}": i for i in range(n)})
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=6) | DEEP | WIDE
MESSAGES = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]) | VALUES,
        "userId": st.text(min_size=1, max_size=30) | VALUES,
    },
    optional={
        "event": st.text(max_size=30) | VALUES,
        "anonymousId": VALUES,
        "messageId": st.text(max_size=120) | VALUES,
        "properties": OBJECTS | VALUES,
        "traits": OBJECTS,
        "context": OBJECTS | VALUES,
        "integrations": OBJECTS | VALUES,
        "timestamp": st.text(max_size=40) | VALUES,
        "groupId": VALUES,
        "previousId": VALUES,
        "__proto__": OBJECTS,
        "constructor": VALUES,
    },
)


@pytest.fixture
def pipeline(source, sinks) -> tuple[Source, Destination]:
    """Every kind of destination on one sink, a webhook through a transformation, and a second
    source whose normal events must keep flowing."""
    url = sinks().url
    password = {"api_token": "t", "api_key": "k", "token": "t", "write_key": "w"}
    kinds = {
        "metronome": {},
        "aggregations_io": {"ingest_id": "ingest"},
        "launchdarkly": {"client_id": "client"},
        "librato": {"email": "ops@example.com"},
        "segment": {},
    }
    for kind, kind_settings in kinds.items():
        create_destination(kind, kind, {"base_url": url, **kind_settings}, password, [source])
    hook = scenario.webhook(source, url, batch_size=10)
    code = "export function transformEvent(event) { event.seen = true; return event; }"
    set_destination_chain(hook, [create_transformation("Seen", code, author="test")])
    other = Source.objects.create(name="Other app")
    hook.sources.add(other)
    Mapping.objects.update(flush_interval=0)
    return other, hook


def dispatch_everything() -> None:
    for mapping_id in Mapping.objects.values_list("pk", flat=True):
        dispatch_mapping(mapping_id)


@settings(settings.get_profile(PROFILE))
@given(batch=st.lists(MESSAGES, min_size=1, max_size=5))
def test_whatever_a_write_key_sends_fails_alone_and_the_pipeline_goes_on(
    batch, api, pipeline, monkeypatch
):
    other, hook = pipeline
    monkeypatch.setattr("destinations.delivery.doorbell._ring", lambda *args, **kwargs: None)

    answer = api.post("/v1/batch", json={"batch": batch})
    route_new_events()
    dispatch_everything()

    assert answer.status_code < 500, answer.text
    assert not Event.objects.filter(routed_at__isnull=True).exists()
    failed = Delivery.objects.filter(status="failed")
    assert not failed.filter(error_code="").exists()
    normal = scenario.track(0, messageId=f"normal-{Event.objects.count()}")
    with api_as(api, other):
        assert api.post("/v1/batch", json={"batch": [normal]}).status_code == 200
    route_new_events()
    dispatch_mapping(hook.mappings.get().pk)
    sent = Delivery.objects.get(event__message_id=normal["messageId"], destination=hook)
    assert sent.status == "delivered"


class api_as:
    """The live-server client authenticated as another source for a while."""

    def __init__(self, client, source: Source) -> None:
        self.client, self.source = client, source

    def __enter__(self):
        self.saved, self.client.auth = self.client.auth, (self.source.write_key, "")

    def __exit__(self, *exc) -> None:
        self.client.auth = self.saved
