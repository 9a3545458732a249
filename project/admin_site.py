"""The admin site: Django's, with the operator's overview as its home page, a getting-started
path, and "View site" leading to the API docs (issue 19).

It is the default site (project.apps.SwitchyardAdminConfig), so every `admin.register` and
`admin.site` in the apps means this one. The apps' admin modules are imported while this
class is first built: what it needs of them is imported inside the methods, once they exist.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_POST

# What each model of the overview needs to be shown: its figures stay hidden from a user who
# may not read what they count.
SOURCE_FIGURES = "ingest.view_source"
DESTINATION_FIGURES = "destinations.view_destination"


class SwitchyardAdminSite(admin.AdminSite):
    site_header = site_title = "Switchyard"
    index_title = "Overview"
    # The header's "View site" (relabelled "API docs" in admin/base_site.html): Switchyard has
    # no site of its own, and "/" would answer 404.
    site_url = reverse_lazy("api-docs")

    def get_urls(self) -> list:
        view = self.admin_view
        return [
            path("getting-started/", view(self.getting_started_view), name="getting_started"),
            path(
                "getting-started/source/",
                view(require_POST(self.create_source_view)),
                name="getting_started_source",
            ),
            path(
                "getting-started/test-event/",
                view(require_POST(self.test_event_view)),
                name="getting_started_test_event",
            ),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        return super().index(request, {**self.overview_context(request), **(extra_context or {})})

    def overview_context(self, request: HttpRequest) -> dict[str, Any]:
        from destinations.selectors.overview import overview

        from . import getting_started

        user = request.user
        if not (user.has_perm(SOURCE_FIGURES) or user.has_perm(DESTINATION_FIGURES)):
            return {"overview": None, "start": None}
        figures = overview()
        # Nothing configured yet: the path to a first delivery comes first.
        start = getting_started.page_context(request) if not figures.destinations else None
        return {"overview": figures, "start": start}

    def getting_started_view(self, request: HttpRequest) -> TemplateResponse:
        from . import getting_started

        context = {
            **self.each_context(request),
            "title": "Getting started",
            "start": getting_started.page_context(request),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/getting_started.html", context)

    def create_source_view(self, request: HttpRequest) -> HttpResponse:
        from . import getting_started

        return getting_started.create_source_view(request)

    def test_event_view(self, request: HttpRequest) -> HttpResponse:
        from . import getting_started

        return getting_started.send_test_event_view(request)
