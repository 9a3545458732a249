"""Sending destination requests and reading the answers (docs/destinations.md, "Every request";
docs/delivery.md, "Classifying answers").

One pooled HTTP client per process for every kind; `send` never raises, it returns an
`Exchange` whose error fields say what went wrong, and `classify` turns an exchange into
delivered / retry / failed with Segment's error codes. A request ends by its overall deadline
(DESTINATION_REQUEST_DEADLINE_SECONDS, see deadline.py), well inside its batch's lease.
"""

import logging
import os
import ssl
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import httpcore
import httpx
from django.conf import settings

from infra.addresses import PrivateAddress, Target, Unresolvable, pinned_target

from ..integrations.base import Action, Answer, Config, ItemResult, Loaded, Outcome, Request
from .deadline import DeadlineBackend, within
from .exchanges import USER_AGENT, Exchange, Sent, excerpt, redacted, unsent

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
RETRYABLE_STATUSES = frozenset({408, 423, 429})
# A destination asking for more than a day is wrong; the retry window decides after that.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
INVALID_REQUEST = "INVALID_REQUEST"
BATCH_NOT_SPLIT = "BATCH_NOT_SPLIT"
NOT_SENT_IN_TIME = "NOT_SENT_IN_TIME"
# Answers that refuse a whole batch for what is in it: split it to find the bad items.
POISONED_STATUSES = frozenset({400, 413, 422})
PRIVATE_ADDRESS = "PRIVATE_ADDRESS"
NO_TIME_TO_SPLIT = "the batch was refused whole and there was no time left to find the bad items"
NO_TIME_TO_SEND = "no time was left in the batch's lease to send this request"
NOT_SPLIT = ItemResult(Outcome.RETRY, BATCH_NOT_SPLIT, NO_TIME_TO_SPLIT)
NO_TIME = ItemResult(Outcome.RETRY, NOT_SENT_IN_TIME, NO_TIME_TO_SEND)
MAX_POOLED_NAMES = 64


_client: httpx.Client | None = None
_client_pid = 0


class NoCookies(httpx.Cookies):
    """A request carries what its kind builds and nothing an earlier answer set: one client
    serves every destination, and two on one host must not share a cookie. (Reading the
    answers' cookies was also a tenth of a one-item request's CPU.)"""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def client() -> httpx.Client:
    """The process's client; a forked worker makes its own rather than share sockets."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        _client = httpx.Client(
            transport=PoolPerServerName(),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        # httpx has no switch for its jar, and its setter copies what it is given.
        _client._cookies = NoCookies()
        _client_pid = os.getpid()
    return _client


def deadline_transport(ssl_context: ssl.SSLContext) -> httpx.HTTPTransport:
    """httpx's transport on a pool whose connections keep each request's deadline: httpx
    takes no network backend, so the pool it made is replaced by one that has it."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=DeadlineBackend(httpcore.SyncBackend()),
    )
    return transport


class PoolPerServerName(httpx.BaseTransport):
    """A connection pool per server name. The guard sends a request to the address it
    checked, the name going in Host and SNI, and httpcore pools connections by the URL's
    host: in one pool, a second name on the same address would ride a TLS connection whose
    certificate was checked for the first name only. Past MAX_POOLED_NAMES (event data can
    name hosts) the least recently used pool is dropped, its connections closing with it
    once their requests are done."""

    def __init__(self) -> None:
        self.ssl_context = httpx.create_ssl_context()
        self.pools: dict[str, httpx.HTTPTransport] = {}
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.extensions.get("sni_hostname") or request.url.host
        return self.pool(name).handle_request(request)

    def pool(self, name: str) -> httpx.HTTPTransport:
        with self.lock:
            pool = self.pools.pop(name, None) or deadline_transport(self.ssl_context)
            self.pools[name] = pool  # the most recently used last
            if len(self.pools) > MAX_POOLED_NAMES:
                del self.pools[next(iter(self.pools))]
            return pool

    def close(self) -> None:
        with self.lock:
            pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            pool.close()


def send(request: Request) -> Exchange:
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    ends_at = time.monotonic() + settings.DESTINATION_REQUEST_DEADLINE_SECONDS

    def exchange(**outcome) -> Exchange:
        duration_ms = round((time.perf_counter() - start) * 1000)
        return Exchange(request, started_at, duration_ms, **outcome)

    try:
        # Resolving the host counts too; it cannot be cut short, connecting after it can.
        with within(ends_at):
            target = guarded(request)
            with client().stream(
                request.method,
                target.url,
                headers=target.headers,
                content=request.body,
                extensions=target.extensions,
                timeout=httpx.Timeout(
                    settings.DESTINATION_READ_TIMEOUT,
                    connect=settings.DESTINATION_CONNECT_TIMEOUT,
                ),
            ) as response:
                body = read_capped(response)
                return exchange(
                    status=response.status_code,
                    response_headers=dict(response.headers),
                    response_body=body,
                )
    except PrivateAddress as error:
        return exchange(error_code=PRIVATE_ADDRESS, error_message=str(error))
    except Unresolvable as error:
        return exchange(error_code="ENOTFOUND", error_message=str(error))
    except (
        httpx.InvalidURL,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
        UnicodeEncodeError,
    ) as error:
        # Refused before anything left: sending it again cannot go better.
        return exchange(error_code=INVALID_REQUEST, error_message=describe(error, "invalid"))
    except httpx.TimeoutException as error:
        return exchange(error_code="ETIMEDOUT", error_message=timed_out(error, ends_at))
    except httpx.ConnectError as error:
        return exchange(error_code="ECONNREFUSED", error_message=describe(error, "cannot connect"))
    except httpx.TransportError as error:
        return exchange(error_code="ECONNRESET", error_message=describe(error, "connection lost"))
    except Exception as error:  # an exception is never a success: record it and retry
        return exchange(error_code="UNKNOWN_ERROR", error_message=describe(error, "failed"))


def send_batch(action: Action, config: Config, payloads: list[dict]) -> list[Sent]:
    """Build the action's requests for these payloads, send each, and judge every item;
    items the kind refused to put in any request fail alone, with its reason.

    A request of several items refused whole for its content (400, 413, 422: one bad event
    can earn that, where 401/403 condemn every request) is split in halves and each half
    sent again, until the bad items stand alone and the good ones are delivered: k bad items
    among n cost about 2·k·log2(n) more requests. Each request is its own Sent, so the
    attempt log shows the splits; the last verdict on an item is the one that counts.
    Splitting, and sending the next of a batch's several requests (a webhook's, one per URL
    or per event), stop at half the lease, so that a slow destination never outlives the
    claim: what is left is retried later.
    """
    if action.load is not None:
        return loaded(action, config, payloads)
    deadline = time.monotonic() + settings.DELIVERY_LEASE_SECONDS / 2
    sent = send_items(action, config, payloads, tuple(range(len(payloads))), deadline)
    return sent + refused(action, payloads, sent)


def loaded(action: Action, config: Config, payloads: list[dict]) -> list[Sent]:
    """A kind's own load (Action.load) as the attempt log keeps requests: each load is a
    Sent, with no HTTP status; a loader that raises is retried whole, as a request that
    failed to go out."""
    try:
        loads = action.load(config, payloads)
    except Exception as error:
        log.exception("a load raised instead of reporting its failure")
        result = ItemResult(Outcome.RETRY, "UNKNOWN_ERROR", describe(error, "failed"))
        return [unsent(tuple(range(len(payloads))), redacted(result, config.secret_values))]
    return [load_sent(load, config.secret_values) for load in loads]


def load_sent(load: Loaded, secret_values: list[str]) -> Sent:
    request = Request(load.method, load.url, {}, load.body.encode(), load.items)
    exchange = Exchange(
        request,
        load.started_at,
        load.duration_ms,
        response_body=load.answer.encode(),
        error_code=load.error_code,
        error_message=load.error_message,
    )
    return Sent(request, exchange, [redacted(result, secret_values) for result in load.results])


def send_items(
    action: Action, config: Config, payloads: list[dict], items: tuple[int, ...], deadline: float
) -> list[Sent]:
    sent = []
    for built in action.build(config, [payloads[i] for i in items]):
        request = replace(built, items=tuple(items[i] for i in built.items))
        if sent and time.monotonic() > deadline:  # the first goes whatever the lease
            sent.append(unsent(request.items, NO_TIME))
            continue
        exchange = send(request)
        by_item = item_results(action, exchange, len(request.items))
        results = by_item or [judge(action, exchange)] * len(request.items)
        secrets = config.secret_values
        sent.append(Sent(request, exchange, [redacted(result, secrets) for result in results]))
        poisoned = exchange.status in POISONED_STATUSES
        if by_item is None and poisoned and len(request.items) > 1:
            sent += split(action, config, payloads, request.items, deadline)
    return sent


def split(
    action: Action, config: Config, payloads: list[dict], items: tuple[int, ...], deadline: float
) -> list[Sent]:
    if time.monotonic() > deadline:
        return [unsent(items, NOT_SPLIT)]
    half = len(items) // 2
    return [
        *send_items(action, config, payloads, items[:half], deadline),
        *send_items(action, config, payloads, items[half:], deadline),
    ]


def judge(action: Action, exchange: Exchange) -> ItemResult:
    """The kind's reading of an answer outside 2xx first (a rate limit sent as 403, say)."""
    status = exchange.status
    if action.read_error and status is not None and not 200 <= status < 300:
        reading = action.read_error(answer(exchange, status))
        if reading is not None:
            return reading
    return classify(exchange)


def refused(action: Action, payloads: list[dict], sent: list[Sent]) -> list[Sent]:
    if action.refuse is None:
        return []
    carried = {index for item in sent for index in item.request.items}
    alone = []
    for index, payload in enumerate(payloads):
        if index not in carried and (result := action.refuse(payload)) is not None:
            alone.append(unsent((index,), result))
    return alone


def item_results(action: Action, exchange: Exchange, count: int) -> list[ItemResult] | None:
    """The kind's reading of an answer item by item, when it has one that makes sense."""
    status = exchange.status
    if action.read_response is None or status is None:
        return None
    try:
        results = action.read_response(answer(exchange, status), count)
    except Exception:  # a reader's bug leaves the answer to be judged whole, as without one
        log.exception("could not read the answer item by item")
        return None
    return results if results is not None and len(results) == count else None


def answer(exchange: Exchange, status: int) -> Answer:
    return Answer(status, exchange.response_headers, exchange.response_body, exchange.request)


def guarded(request: Request) -> Target:
    if settings.ALLOW_PRIVATE_DESTINATIONS:
        return Target(request.url, request.headers, {})
    return pinned_target(request.url, request.headers)


def read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= MAX_RESPONSE_BYTES:
            break
    return bytes(body[:MAX_RESPONSE_BYTES])


def timed_out(error: httpx.TimeoutException, ends_at: float) -> str:
    if time.monotonic() < ends_at:
        return describe(error, "timed out")
    seconds = settings.DESTINATION_REQUEST_DEADLINE_SECONDS
    return (
        f"{type(error).__name__}: the overall deadline of {seconds:g} s passed before the "
        "answer was complete"
    )


def describe(error: Exception, fallback: str) -> str:
    return (
        f"{type(error).__name__}: {error}" if str(error) else f"{type(error).__name__}: {fallback}"
    )


def classify(exchange: Exchange) -> ItemResult:
    status = exchange.status
    if status is None:
        permanent = exchange.error_code in (INVALID_REQUEST, PRIVATE_ADDRESS)
        outcome = Outcome.FAILED if permanent else Outcome.RETRY
        return ItemResult(outcome, exchange.error_code, exchange.error_message)
    if 200 <= status < 300:
        return ItemResult(Outcome.DELIVERED)
    message = f"HTTP {status}: {excerpt(exchange.response_body)}".rstrip(": ")
    if status in (401, 403):
        return ItemResult(Outcome.FAILED, "INVALID_AUTHENTICATION", message)
    if status in RETRYABLE_STATUSES or (status >= 500 and status != 501):
        retry_after = parse_retry_after(exchange.response_headers.get("retry-after", ""))
        return ItemResult(Outcome.RETRY, status_code_name(status), message, retry_after)
    if 300 <= status < 400:
        location = exchange.response_headers.get("location", "")
        return ItemResult(Outcome.FAILED, "UNEXPECTED_REDIRECT", f"HTTP {status} to {location}")
    return ItemResult(Outcome.FAILED, status_code_name(status), message)


def status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return f"HTTP_{status}"


def parse_retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
