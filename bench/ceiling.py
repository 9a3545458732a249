"""The ceiling of `make bench`: the barest Django JSON view, served by the ingest API's own
server, workers and settings, so that /v1/track is measured against what Django itself costs.

Mounted only when BENCH_CEILING=1 (see project/urls.py); production never serves it.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

SUCCESS = {"success": True}


@csrf_exempt
def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse(SUCCESS)


urlpatterns = [path("bench/ceiling", ceiling, name="bench-ceiling")]
