"""Getting started (issue 19): from an empty installation to a delivered event in four steps,
each done on the page it names. Shown on the overview until a destination exists, and at
/admin/getting-started/ always.

The write key is a credential: only users who may change sources see it (and the snippets
filled in with it); the others get WRITE_KEY in its place.
"""

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from destinations.models import Delivery, Destination
from ingest.errors import IngestError
from ingest.http import client_ip
from ingest.models import Event, Source
from ingest.selectors import source_for_write_key
from ingest.services import ingest_payload
from ingest.sources import create_source

KEY_PLACEHOLDER = "WRITE_KEY"
SOURCE_NAME = "My app"
TEST_EVENT = "Switchyard Test Event"
SEES_KEYS = "ingest.change_source"  # as on the source's page: rotating it is changing it
ADDS_SOURCES = "ingest.add_source"


@dataclass(frozen=True)
class Snippet:
    key: str  # the element id's suffix: snippet-curl, ...
    title: str
    code: str


def snippets(server: str, write_key: str) -> list[Snippet]:
    """Copy-paste examples for this server and key (as docs/tracking-api.md gives them, filled
    in)."""
    curl = (
        f"curl -s {server}/v1/track -u '{write_key}:' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"userId": "user-1", "event": "Signed Up", "properties": {"plan": "pro"}}\''
    )
    python = (
        "import segment.analytics as analytics\n\n"
        f'analytics.write_key = "{write_key}"\n'
        f'analytics.host = "{server}"\n'
        'analytics.track("user-1", "Signed Up", {"plan": "pro"})\n'
        "analytics.flush()"
    )
    node = (
        'import { Analytics } from "@segment/analytics-node";\n\n'
        f'const analytics = new Analytics({{ writeKey: "{write_key}", host: "{server}" }});\n'
        'analytics.track({ userId: "user-1", event: "Signed Up", properties: { plan: "pro" } });\n'
        "await analytics.closeAndFlush();"
    )
    # cdnURL: analytics.js reads its settings from this server, as it would from Segment's CDN.
    browser = (
        'import { AnalyticsBrowser } from "@segment/analytics-next";\n\n'
        f'const analytics = AnalyticsBrowser.load({{ writeKey: "{write_key}", '
        f'cdnURL: "{server}" }});\n'
        'analytics.track("Signed Up", { plan: "pro" });'
    )
    return [
        Snippet("curl", "curl", curl),
        Snippet("python", "analytics-python", python),
        Snippet("node", "analytics-node", node),
        Snippet("js", "analytics.js", browser),
    ]


def first_source() -> Source | None:
    return Source.objects.filter(enabled=True).order_by("pk").first()


def page_context(request: HttpRequest) -> dict[str, Any]:
    """The four steps, each with whether it is done yet (a few indexed EXISTS queries)."""
    source = first_source()
    shows_key = source is not None and request.user.has_perm(SEES_KEYS)
    server = request.build_absolute_uri("/").rstrip("/")
    sent = request.GET.get("sent", "")
    return {
        "source": source,
        "shows_key": shows_key,
        "server": server,
        "snippets": snippets(server, source.write_key if shows_key else KEY_PLACEHOLDER),
        "has_destination": Destination.objects.exists(),
        "has_events": source is not None and Event.objects.filter(source=source).exists(),
        "has_deliveries": Delivery.objects.exists(),
        "sent": sent,
        "sent_deliveries_url": log_url(sent) if sent else "",
    }


def log_url(message_id: str) -> str:
    """The delivery log searched for one event's deliveries."""
    return f"{reverse('admin:destinations_delivery_changelist')}?{urlencode({'q': message_id})}"


def create_source_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(ADDS_SOURCES):
        raise PermissionDenied
    source, _ = create_source(free_source_name())
    messages.success(request, f"Created the source “{source}”: its write key is below.")
    return HttpResponseRedirect(reverse("admin:getting_started"))


def free_source_name() -> str:
    """ "My app", or "My app 2", ...: a disabled source of that name may exist already."""
    taken = set(Source.objects.filter(name__startswith=SOURCE_NAME).values_list("name", flat=True))
    name, number = SOURCE_NAME, 1
    while name in taken:
        number += 1
        name = f"{SOURCE_NAME} {number}"
    return name


def send_test_event_view(request: HttpRequest) -> HttpResponse:
    """One track event for the first source, down the Tracking API's path (validation,
    dedup, routing), as an SDK would send it."""
    if not request.user.has_perm(SEES_KEYS):
        raise PermissionDenied
    page = reverse("admin:getting_started")
    source = first_source()
    if source is None:
        messages.error(request, "Create a source first.")
        return HttpResponseRedirect(page)
    message_id = f"test-{uuid.uuid4()}"
    try:
        send_test_event(request, source, message_id)
    except IngestError as error:
        messages.error(request, f"The test event was refused: {error.message}")
        return HttpResponseRedirect(page)
    messages.success(request, f"Sent a “{TEST_EVENT}” (messageId {message_id}) to “{source}”.")
    return HttpResponseRedirect(f"{page}?{urlencode({'sent': message_id})}")


def send_test_event(request: HttpRequest, source: Source, message_id: str) -> None:
    payload = {
        "event": TEST_EVENT,
        "userId": "getting-started",
        "messageId": message_id,
        "properties": {"sentFrom": "Getting started"},
    }
    ref = source_for_write_key(source.write_key)
    if ref is None:  # rotated or deleted since the page was read
        raise IngestError(401, "unknown_source", "the source's write key changed; try again")
    ingest_payload(ref, payload, "track", client_ip(request))
