"""Transformation libraries as services and in the router: a version keeps the library code it
was saved with, saving a library publishes the transformations that import it (RudderStack:
"referenced transformations"), and a library that would break one of them is refused."""

import pytest
from django.core.exceptions import ValidationError

from destinations.models import Delivery
from destinations.services.libraries import delete_library, save_library
from destinations.services.transformations import create_transformation, set_destination_chain
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track

MASK = "export function mask(text) { return text[0] + '***' }"
USES_MASK = """import { mask } from "piiTools";
export function transformEvent(event) {
  event.userId = mask(event.userId);
  return event;
}"""


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def hook(source):
    return scenario.webhook(source, "http://127.0.0.1:9")


def sent_user_ids(destination) -> list[str]:
    rows = Delivery.objects.filter(destination=destination).order_by("event_id")
    return [d.payload["data"]["userId"] for d in rows]


def test_a_transformation_imports_a_library_by_its_camel_case_name(source, hook):
    library, _ = save_library("PII tools", MASK, "ops")
    masked = create_transformation("Mask", USES_MASK, "ops")
    set_destination_chain(hook, [masked])

    ingest_and_route(source, track(1))

    assert library.handle == "piiTools"
    assert masked.current_version.libraries == {"piiTools": MASK}
    assert sent_user_ids(hook) == ["u***"]


def test_saving_a_library_publishes_a_new_version_of_each_importer(source, hook):
    library, _ = save_library("PII tools", MASK, "ops")
    masked = create_transformation("Mask", USES_MASK, "ops")
    create_transformation("Plain", "function transformEvent(e) { return e }", "ops")
    set_destination_chain(hook, [masked])
    ingest_and_route(source, track(1))

    shorter = "export function mask(text) { return '*' }"
    _, published = save_library("PII tools", shorter, "ada", library=library)
    ingest_and_route(source, track(2))

    assert [t.name for t in published] == ["Mask"]
    masked.refresh_from_db()
    version = masked.current_version
    assert (version.number, version.created_by, version.libraries) == (
        2,
        "ada",
        {"piiTools": shorter},
    )
    assert sent_user_ids(hook) == ["u***", "*"]


def test_a_library_change_that_breaks_an_importer_is_refused_whole():
    library, _ = save_library("PII tools", MASK, "ops")
    at_load = (
        'import { mask } from "piiTools";\nconst HIDDEN = mask("x");\n'
        + USES_MASK.split("\n", 1)[1]
    )
    create_transformation("Mask at load", at_load, "ops")

    with pytest.raises(ValidationError) as refused:
        save_library("PII tools", "export function other() {}", "ops", library=library)

    assert "“Mask at load” would no longer load: TypeError" in str(refused.value)
    library.refresh_from_db()
    assert library.code == MASK


def test_a_library_that_does_not_load_is_refused_with_its_line():
    with pytest.raises(ValidationError) as refused:
        save_library("PII tools", "export function mask(text {\n}", "ops")

    assert "of library piiTools" in str(refused.value)


def test_a_library_in_use_can_neither_be_renamed_nor_deleted():
    library, _ = save_library("PII tools", MASK, "ops")
    create_transformation("Mask", USES_MASK, "ops")

    with pytest.raises(ValidationError, match="“Mask”"):
        save_library("Privacy tools", MASK, "ops", library=library)
    with pytest.raises(ValidationError, match="“Mask” imports it"):
        delete_library(library)


def test_two_libraries_cannot_share_an_import_name():
    save_library("PII tools", MASK, "ops")

    with pytest.raises(ValidationError, match='imported as "piiTools" already'):
        save_library("pii-tools", MASK, "ops")
