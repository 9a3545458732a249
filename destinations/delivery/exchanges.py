"""An exchange with a destination: the request, the answer and what each item made of it,
and how it is kept and shown without a secret (docs/security.md, "Redaction").

The attempt log, the delivery log's pages and Test mapping all take their masked copies
from here, so that they hide the same things.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from infra.encryption import MASK

from ..integrations.base import ItemResult, Request

USER_AGENT = f"Switchyard/{version('switchyard')}"
BODY_EXCERPT = 64 * 1024
# Headers that carry credentials whatever their value looks like.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-api-token", "cookie", "set-cookie"}
)


@dataclass(frozen=True)
class Exchange:
    request: Request
    started_at: datetime
    duration_ms: int
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True)
class Sent:
    """One request of a batch, its exchange and a result for each item it carried."""

    request: Request
    exchange: Exchange
    results: list[ItemResult]


def unsent(items: tuple[int, ...], result: ItemResult) -> Sent:
    """Items that went in no request (no time left, a payload refused, a dispatcher's error),
    each with `result`: an exchange that never started, logged as such."""
    request = Request("", "", {}, b"", items)
    exchange = Exchange(
        request, datetime.now(UTC), 0, error_code=result.code, error_message=result.message
    )
    return Sent(request, exchange, [result] * len(items))


def attempt_record(item: Sent, secret_values: list[str]) -> dict[str, Any]:
    """What the attempt log keeps of one exchange: enough to debug, never a secret."""
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


@dataclass(frozen=True)
class ShownRequest:
    """A request as a page may show it: credentials masked, the body as sent."""

    method: str
    url: str
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class ShownExchange:
    """A request and its answer as a page shows them, masked as the attempt log keeps them:
    the delivery log's attempts and Test mapping's test event alike."""

    request: ShownRequest
    status: int | None
    headers: dict[str, str]
    body: str
    error_code: str
    error_message: str
    outcome: str = ""
    duration_ms: int = 0

    @classmethod
    def of(cls, record: Any, **verdict: Any) -> "ShownExchange":
        """From an attempt row, or the attempt record of a test send (`verdict`: its outcome
        and error, as the dispatcher would judge it). Credential headers are masked again:
        it costs nothing, and keeps rows written by older code from showing one."""
        read = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
        request = ShownRequest(
            read("request_method"),
            read("request_url"),
            redact_headers(read("request_headers"), []),
            read("request_body"),
        )
        shown = {
            "status": read("response_status"),
            "headers": redact_headers(read("response_headers"), []),
            "body": read("response_body"),
            "error_code": read("error_code"),
            "error_message": read("error_message"),
            "duration_ms": read("duration_ms"),
        }
        return cls(request, **(shown | verdict))


def shown_request(request: Request, secret_values: list[str]) -> ShownRequest:
    """A request built and not sent (a dry run), as it would go out."""
    return ShownRequest(
        method=request.method,
        url=redact_text(request.url, secret_values),
        headers=redact_headers({"User-Agent": USER_AGENT} | request.headers, secret_values),
        body=redact_text(request.body.decode("utf-8", errors="replace"), secret_values),
    )


def redacted(result: ItemResult, secret_values: list[str]) -> ItemResult:
    """Error messages quote the destination's answer, which may echo a credential."""
    return replace(result, message=redact_text(result.message, secret_values))


def redact_text(text: str, secret_values: list[str]) -> str:
    for secret in secret_values:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def redact_headers(headers: dict[str, str], secret_values: list[str]) -> dict[str, str]:
    return {name: redact_header(name, value, secret_values) for name, value in headers.items()}


def redact_header(name: str, value: str, secret_values: list[str]) -> str:
    if name.lower() in CREDENTIAL_HEADERS:
        scheme, _, credentials = value.partition(" ")
        # "Bearer ••••" still tells which kind of credential was sent.
        return f"{scheme} {MASK}" if credentials else MASK
    return redact_text(value, secret_values)


def excerpt(body: bytes, limit: int = 500) -> str:
    # PostgreSQL's text holds no NUL: one in an answer would make its attempt unrecordable,
    # and the batch would be sent again when its lease lapsed, over and over.
    text = body[:limit].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return text.strip()
