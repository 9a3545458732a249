"""What the attempt log keeps of one HTTP exchange: enough to debug, never a secret."""

from typing import Any

from infra.encryption import MASK

from .transport import USER_AGENT, Sent, excerpt, redact_text

BODY_EXCERPT = 64 * 1024
# Headers that carry credentials whatever their value looks like.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-api-token", "cookie", "set-cookie"}
)


def attempt_record(item: Sent, secret_values: list[str]) -> dict[str, Any]:
    request, exchange = item.request, item.exchange
    outcomes = {result.outcome.value for result in item.results}
    return {
        "started_at": exchange.started_at,
        "duration_ms": exchange.duration_ms,
        "item_count": len(request.items),
        "outcome": outcomes.pop() if len(outcomes) == 1 else "mixed",
        "request_method": request.method,
        "request_url": redact_text(request.url, secret_values),
        # The client adds the User-Agent; the log shows it as it went out.
        "request_headers": redact_headers(
            {"User-Agent": USER_AGENT, **request.headers}, secret_values
        ),
        "request_body": redact_text(excerpt(request.body, BODY_EXCERPT), secret_values),
        "response_status": exchange.status,
        "response_headers": redact_headers(exchange.response_headers, secret_values),
        "response_body": redact_text(excerpt(exchange.response_body, BODY_EXCERPT), secret_values),
        "error_code": exchange.error_code,
        "error_message": redact_text(exchange.error_message, secret_values),
    }


def redact_headers(headers: dict[str, str], secret_values: list[str]) -> dict[str, str]:
    return {name: redact_header(name, value, secret_values) for name, value in headers.items()}


def redact_header(name: str, value: str, secret_values: list[str]) -> str:
    if name.lower() in CREDENTIAL_HEADERS:
        scheme, _, credentials = value.partition(" ")
        # "Bearer ••••" still tells which kind of credential was sent.
        return f"{scheme} {MASK}" if credentials else MASK
    return redact_text(value, secret_values)
