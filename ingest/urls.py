from django.urls import path

from .views import TrackingView, cdn_settings

SINGLE = {
    "identify": "i",
    "track": "t",
    "page": "p",
    "screen": "s",
    "group": "g",
    "alias": "a",
}

urlpatterns = [
    path(route, TrackingView.as_view(message_type=message_type), name=f"v1-{route}")
    for message_type, short in SINGLE.items()
    for route in (message_type, short)
] + [
    path(route, TrackingView.as_view(message_type=None), name=f"v1-{route}")
    for route in ("batch", "import", "b")
]
urlpatterns.append(path("projects/<str:write_key>/settings", cdn_settings, name="v1-settings"))
