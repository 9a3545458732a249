"""OpenAPI description of the Tracking API (served at /api/schema/ by drf-spectacular)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from .normalize import MAX_NESTING_DEPTH

ID = {"oneOf": [{"type": "string"}, {"type": "number"}]}
OBJECT = {"type": "object", "additionalProperties": True}
TIME = {"type": "string", "description": "ISO-8601 date-time"}

COMMON_PROPERTIES = {
    "userId": ID,
    "anonymousId": ID,
    "messageId": {"type": "string", "maxLength": 100},
    "timestamp": TIME,
    "originalTimestamp": TIME,
    "sentAt": TIME,
    "context": OBJECT,
    "integrations": OBJECT,
    "writeKey": {"type": "string"},
}
TYPE_PROPERTIES = {
    "identify": {"traits": OBJECT},
    "track": {"event": {"type": "string", "minLength": 1}, "properties": OBJECT},
    "page": {"name": {"type": "string"}, "category": {"type": "string"}, "properties": OBJECT},
    "screen": {"name": {"type": "string"}, "category": {"type": "string"}, "properties": OBJECT},
    "group": {"groupId": ID, "traits": OBJECT},
    "alias": {"previousId": ID},
}


def message_schema(message_type: str | None) -> dict:
    properties = {**COMMON_PROPERTIES, **TYPE_PROPERTIES.get(message_type or "", {})}
    if message_type is None:
        properties["type"] = {"type": "string", "enum": sorted(TYPE_PROPERTIES)}
        for extra in TYPE_PROPERTIES.values():
            properties.update(extra)
    return {
        "type": "object",
        "description": "Needs userId or anonymousId; unknown keys are kept.",
        "properties": properties,
        "additionalProperties": True,
    }


BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "maxItems": 2500, "items": message_schema(None)},
        "context": OBJECT,
        "integrations": OBJECT,
        "sentAt": TIME,
        "writeKey": {"type": "string"},
    },
    "additionalProperties": True,
}
SUCCESS_SCHEMA = {
    "type": "object",
    "required": ["success"],
    "properties": {
        "success": {"type": "boolean", "enum": [True]},
        "rejected": {
            "type": "array",
            "description": (
                "Messages dropped by validation, by their index in the request and a reason "
                f"code: id_required, too_deep (nested past {MAX_NESTING_DEPTH} levels), "
                "unencodable (NaN, Infinity, a lone surrogate), ..."
            ),
            "items": {
                "type": "object",
                "required": ["index", "code"],
                "properties": {"index": {"type": "integer"}, "code": {"type": "string"}},
            },
        },
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}


class TrackingApiSchema(AutoSchema):
    def get_request_serializer(self) -> dict:
        message_type = self.view.message_type
        schema = BATCH_SCHEMA if message_type is None else message_schema(message_type)
        return {"application/json": schema}

    def get_response_serializers(self) -> dict:
        def error(text: str) -> OpenApiResponse:
            return OpenApiResponse(ERROR_SCHEMA, description=text)

        return {
            200: OpenApiResponse(SUCCESS_SCHEMA, description="Committed (invalid items listed)"),
            400: error("bad_request or payload_too_large"),
            401: error("unknown_source or source_disabled"),
            429: error("rate_limited; see Retry-After"),
            503: error("database unavailable; retry after Retry-After seconds"),
        }

    def _get_request_body(self, direction: str = "request") -> dict | None:
        # A raw schema makes drf-spectacular call the body optional; every endpoint needs one.
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body

    def get_tags(self) -> list[str]:
        return ["Tracking API"]

    def get_auth(self) -> list[dict]:
        return [{"writeKeyBasic": []}, {}]
