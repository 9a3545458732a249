import logging

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from . import services
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

    def post(self, request: Request) -> HttpResponse:
        django_request = request._request
        limit = (
            settings.INGEST_MAX_BATCH_BYTES
            if self.message_type is None
            else settings.INGEST_MAX_MESSAGE_BYTES
        )
        payload = decoded_payload(django_request, limit)
        try:
            source = services.authenticate(django_request.headers.get("Authorization", ""), payload)
            result = services.ingest_payload(
                source, payload, self.message_type, client_ip(django_request)
            )
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
