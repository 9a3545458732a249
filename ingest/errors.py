from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class IngestError(APIException):
    """A request the Tracking API refuses as a whole."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, code)
        self.status_code = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> IngestError:
    return IngestError(400, "bad_request", message)


def payload_too_large(message: str) -> IngestError:
    return IngestError(400, "payload_too_large", message)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Answer every API error as `{"code", "message"}`, the shape analytics-python reads."""
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    code = exc.code if isinstance(exc, IngestError) else exc.default_code
    message = exc.message if isinstance(exc, IngestError) else str(exc.detail)
    response.data = {"code": code, "message": message}
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response
