import logging
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from . import services, settings_document
from .errors import IngestError
from .http import client_ip, decoded_payload
from .schema import TrackingApiSchema

log = logging.getLogger(__name__)

SUCCESS = orjson.dumps({"success": True})


class TrackingView(APIView):
    """One Tracking API endpoint: a single message of `message_type`, or a batch when None."""

    message_type: str | None = None
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = ()
    renderer_classes = (JSONRenderer,)
    schema = TrackingApiSchema()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # POST, the hot path, skips DRF's request wrapping, content negotiation and checks (this
        # view has no authentication, permission or throttle classes): /v1/track serves ~8 %
        # more requests a second (make bench). OPTIONS and the OpenAPI schema still use DRF.
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        try:
            return self.ingest(request)
        except IngestError as error:
            return error_response(error)

    def post(self, request: Request) -> HttpResponse:
        """What DRF routes to (and documents); `dispatch` serves POST without it."""
        return self.ingest(request._request)

    def ingest(self, request: HttpRequest) -> HttpResponse:
        limit = (
            settings.INGEST_MAX_BATCH_BYTES
            if self.message_type is None
            else settings.INGEST_MAX_MESSAGE_BYTES
        )
        payload = decoded_payload(request, limit)
        try:
            # META, not request.headers: building the headers mapping cost ~4 % of a request.
            authorization = request.META.get("HTTP_AUTHORIZATION", "")
            source = services.authenticate(authorization, payload)
            result = services.ingest_payload(source, payload, self.message_type, client_ip(request))
        except (OperationalError, InterfaceError) as error:
            log.error("database unavailable, asking the client to retry: %s", error)
            raise IngestError(
                503,
                "service_unavailable",
                "the database is unavailable; nothing was stored, retry later",
                {"Retry-After": str(settings.INGEST_RETRY_AFTER_SECONDS)},
            ) from error
        if not result.rejected:
            return HttpResponse(SUCCESS, content_type="application/json")
        rejected = [{"index": item.index, "code": item.code} for item in result.rejected]
        body = orjson.dumps({"success": True, "rejected": rejected})
        return HttpResponse(body, content_type="application/json")


# Exempt so that other methods get 405, not CSRF's 403: it only ever reads.
@csrf_exempt
@require_safe
def cdn_settings(request: HttpRequest, write_key: str) -> HttpResponse:
    """What analytics.js fetches from its CDN before it sends anything."""
    # The Tracking API's own address as the browser reached it; is_secure() believes the
    # proxy's X-Forwarded-Proto when BEHIND_TLS_PROXY is on.
    api_host = request.get_host() + reverse("v1-t").removesuffix("/t")
    protocol = "https" if request.is_secure() else "http"
    document = settings_document.cdn_settings(write_key, api_host, protocol)
    if document is None:
        return error_response(IngestError(404, "not_found", "no enabled source has this key"))
    return JsonResponse(document)


def error_response(error: IngestError) -> HttpResponse:
    """The body and headers errors.exception_handler gives DRF's errors: `{"code", "message"}`."""
    body = orjson.dumps({"code": error.code, "message": error.message})
    response = HttpResponse(body, status=error.status_code, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response
