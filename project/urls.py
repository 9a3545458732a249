import os

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import observability

urlpatterns = [
    path("v1/", include("ingest.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The schema for people (the admin header's "API docs"); Swagger UI's files are the
    # sidecar's static files, its start-up script a URL of its own (no inline script).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", observability.healthz, name="healthz"),
    path("metrics", observability.metrics, name="metrics"),
]

# `make bench` measures /v1/track against a bare view served by the same process; it exists
# only in the servers the harness starts.
if os.environ.get("BENCH_CEILING") == "1":
    urlpatterns.append(path("", include("bench.ceiling")))
