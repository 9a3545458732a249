"""The delivery log's filters: short parameters, stable link ids, and nothing that counts or
scans the table to list its choices."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ..integrations.base import Outcome
from ..models import Delivery
from ..selectors import deliveries as selectors
from .delivery_forms import CreatedRangeForm


class LinkFilter(admin.SimpleListFilter):
    """A list of links, each with id "filter-<parameter>-<value>" ("-all" for All)."""

    template = "admin/destinations/delivery/filter.html"
    # Long lists start folded unless one of their values is chosen.
    folded = False

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        values = ["all", *(value for value, _ in self.lookup_choices)]
        for value, choice in zip(values, super().choices(changelist), strict=True):
            yield choice | {"id": f"filter-{self.parameter_name}-{value}"}


class StatusFilter(LinkFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Delivery.Status.choices

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(status=self.value()) if self.value() else queryset


class DestinationFilter(LinkFilter):
    title = "destination"
    parameter_name = "destination"

    def lookups(self, request, model_admin):
        return selectors.destination_choices()

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        # Deliveries and attempts both have a destination.
        return queryset.filter(destination_id=self.value()) if self.value() else queryset


class MappingFilter(LinkFilter):
    title = "mapping"
    parameter_name = "mapping"

    def lookups(self, request: HttpRequest, model_admin):
        return selectors.mapping_choices(request.GET.get(DestinationFilter.parameter_name))

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(mapping_id=self.value()) if self.value() else queryset


class ErrorCodeFilter(LinkFilter):
    title = "error code"
    parameter_name = "error_code"
    folded = True

    def lookups(self, request: HttpRequest, model_admin):
        codes = selectors.error_code_choices(request.GET.get(self.parameter_name))
        return [(code, code) for code in codes]

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(error_code=self.value()) if self.value() else queryset


class ReplayFilter(LinkFilter):
    title = "replay"
    parameter_name = "replay"

    def lookups(self, request, model_admin):
        return [("yes", "Replays"), ("no", "Originals")]

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if self.value() not in ("yes", "no"):
            return queryset
        return queryset.filter(replay=self.value() == "yes")


class CreatedWithinFilter(LinkFilter):
    title = "created"
    parameter_name = "created"
    PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        period = self.PERIODS.get(self.value() or "")
        if period is None:
            return queryset
        return selectors.created_between(queryset, timezone.now() - period, None)


class CreatedBetweenFilter(admin.ListFilter):
    """From / to inputs (UTC); a bound that does not parse is shown as an error, not applied."""

    title = "created between"
    template = "admin/destinations/delivery/range_filter.html"
    parameters = ("created_from", "created_to")

    def __init__(self, request: HttpRequest, params: dict, model, model_admin) -> None:
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]
        self.form = CreatedRangeForm(self.used_parameters)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def queryset(self, request, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if not self.form.is_valid():
            return queryset
        data = self.form.cleaned_data
        return selectors.created_between(queryset, data["created_from"], data["created_to"])

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        # The GET form must carry the other filters and the search along.
        kept = [(k, v) for k, v in changelist.params.items() if k not in self.parameters]
        yield {"form": self.form, "kept": kept}


class OutcomeFilter(LinkFilter):
    """An attempt's outcome: one for all its items, or "mixed"."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [*((outcome.value, outcome.value) for outcome in Outcome), ("mixed", "mixed")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(outcome=self.value()) if self.value() else queryset
