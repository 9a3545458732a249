"""What the transformation admin's tests share: codes, URLs, a form, a fixture."""

import pytest
from django.urls import reverse

from destinations.models import Delivery, Transformation
from destinations.services.transformations import create_transformation

CHANGELIST = reverse("admin:destinations_transformation_changelist")
ADD = reverse("admin:destinations_transformation_add")

REDACT_PII = """export function transformEvent(event, metadata) {
  const meta = metadata(event);
  if (event.properties && event.properties.email) event.properties.email = "[redacted]";
  log("redacted for", meta.sourceName);
  return event;
}
"""
RENAME = """export function transformEvent(event) {
  event.event = "Renamed " + event.event;
  return event;
}
"""
THROW = """export function transformEvent(event) {
  console.log("about to fail");
  throw new Error("no way");
}
"""
FAN_OUT = """export function transformEvent(event) {
  return [event, {...event, messageId: event.messageId + "-copy"}];
}
"""
DROP = "function transformEvent(event) {\n  return null;\n}\n"
BROKEN = "export function transformEvent(event) {\n  return event\n  let x = ;\n}\n"
PRIVATE = "ada.lovelace@example.com"


def change_url(transformation: Transformation) -> str:
    return reverse("admin:destinations_transformation_change", args=[transformation.pk])


def try_url(transformation: Transformation) -> str:
    return reverse("admin:destinations_transformation_try", args=[transformation.pk])


def version_url(version) -> str:
    return reverse("admin:destinations_transformationversion_change", args=[version.pk])


def delivery_url(delivery: Delivery) -> str:
    return reverse("admin:destinations_delivery_change", args=[delivery.pk])


def transformation_form(transformation: Transformation, **overrides) -> dict:
    return {
        "name": transformation.name,
        "description": transformation.description,
        "code": transformation.code,
        "source_links-TOTAL_FORMS": 0,
        "source_links-INITIAL_FORMS": 0,
    } | overrides


@pytest.fixture
def redact() -> Transformation:
    return create_transformation("Redact PII", REDACT_PII, author="ops")


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()
