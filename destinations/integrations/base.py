"""What a destination kind declares (docs/destinations.md, "What a kind declares"): settings,
actions, presets, a connection test.

A kind module builds one `Kind` from these pieces; `destinations.integrations.REGISTRY`
lists the kinds. Builders are plain functions from a `Config` and rendered payloads to
`Request`s: they never do I/O, which is what lets the admin show a dry run byte for byte.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import orjson

from infra.encryption import MASK, Secrets

SettingType = Literal["string", "password", "number", "boolean", "choice"]
FieldType = Literal[
    "string", "number", "integer", "boolean", "object", "array", "datetime", "url", "any"
]
DatetimeFormat = Literal["iso", "epoch_ms", "epoch_s"]
NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    type: SettingType = "string"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    advanced: bool = False
    # Whether the value picks the server requests go to (a host, a region, an endpoint):
    # the destination's secrets are bound to what these name (destinations.services.destinations).
    chooses_host: bool = False
    # What is wrong with a value (None: nothing), checked whenever the destination is saved;
    # it must not do I/O beyond resolving a host name.
    check: Callable[[Any], str | None] | None = None
    # Whether the value, in seconds, is the flush interval of every mapping of the destination
    # (a warehouse's load interval): Destination and Mapping keep them in step.
    sets_flush_interval: bool = False

    @property
    def secret(self) -> bool:
        return self.type == "password"


@dataclass(frozen=True)
class Field:
    """One key of an action's payload; `default` is the mapping a new mapping starts with."""

    key: str
    label: str
    type: FieldType = "any"
    required: bool = False
    default: Any = NO_DEFAULT
    description: str = ""
    datetime_format: DatetimeFormat = "iso"
    choices: tuple[Any, ...] = ()


class Config(Mapping[str, Any]):
    """A destination's settings and secrets, as builders read them; repr hides secrets."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        secrets: Secrets,
        base_url: str,
        destination_id: int | None = None,
    ) -> None:
        self._values = {**settings, **secrets}
        self._secret_names = frozenset(secrets)
        self.base_url = base_url.rstrip("/")
        # Which destination these are, for a kind that keeps state of its own per destination
        # (a warehouse's schema registry); None for settings not saved yet.
        self.destination_id = destination_id

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def secret_values(self) -> list[str]:
        return [str(self._values[name]) for name in self._secret_names if self._values[name]]

    def __repr__(self) -> str:
        shown = {k: MASK if k in self._secret_names else v for k, v in self._values.items()}
        return f"Config({shown}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class Request:
    """One HTTP request to a destination, carrying the payloads at `items` of a batch."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    items: tuple[int, ...]
    # For a body that holds several vendor objects per item (Braze: a purchase per product),
    # the position in `items` of each object, in body order: how a reader maps the vendor's
    # object indexes back to items. Empty when objects and items correspond one to one.
    object_items: tuple[int, ...] = ()


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class ItemResult:
    outcome: Outcome
    code: str = ""
    message: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class Answer:
    """A destination's answer to one request, as a kind's readers see it."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    request: Request | None = None  # the request answered

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object; None when it is anything else."""
        try:
            reply = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None
        return reply if isinstance(reply, dict) else None


def named_refusals(
    answer: Answer, refused: dict[int, str] | None, count: int, sent_again: str
) -> list[ItemResult] | None:
    """Per-item results where a 2xx or a 400 names the items it refused (Braze, Customer.io):
    those fail with their message. In a 2xx the others were taken; in a 400 nothing was, and
    the others are sent again at once (`sent_again` says why). None when it names none."""
    if refused is None or (answer.status == 400 and not refused):
        return None
    others = ItemResult(Outcome.DELIVERED)
    if answer.status == 400:
        others = ItemResult(Outcome.RETRY, "BATCH_REFUSED", sent_again, 0)
    results = [others] * count
    for index, message in refused.items():
        results[index] = ItemResult(Outcome.FAILED, "BAD_REQUEST", message)
    return results


@dataclass(frozen=True)
class Loaded:
    """What a kind that does its own I/O did with some items of a batch (a warehouse's COPY),
    as the attempt log keeps it: what was done where, what came of it, and one result per
    item of `items`."""

    method: str  # what was done, e.g. "COPY"
    url: str  # where, with no credential in it
    body: str  # what was sent, summarized
    items: tuple[int, ...]
    results: tuple[ItemResult, ...]
    started_at: datetime
    duration_ms: int
    answer: str = ""  # what the other side did with it (rows per table)
    error_code: str = ""
    error_message: str = ""


Builder = Callable[[Config, list[dict[str, Any]]], list[Request]]
# Does the work itself, instead of the dispatcher sending `build`'s requests over HTTP (a
# warehouse load): never raises for a load that failed, but says so item by item.
Loader = Callable[[Config, list[dict[str, Any]]], list[Loaded]]
# Reads an answer that reports items one by one (a 2xx with partial failures, a 400 naming
# the bad events): one result per item of the request, or None to judge the request whole.
# A reading of an answer outside 2xx replaces splitting the batch to find its bad items.
ResponseReader = Callable[[Answer, int], list[ItemResult] | None]
# Reads an answer outside 2xx before the generic rules (docs/delivery.md, "Classifying answers");
# None leaves it to them.
ErrorReader = Callable[[Answer], ItemResult | None]
# Why a payload must go in no request (the receiver would refuse the whole batch for it):
# the builder leaves it out and the item fails alone with this result.
Refusal = Callable[[dict[str, Any]], ItemResult | None]


@dataclass(frozen=True)
class Action:
    key: str
    title: str
    fields: tuple[Field, ...]
    build: Builder
    description: str = ""
    batching: bool = False
    max_batch_size: int = 1
    default_batch_size: int = 1
    max_batch_bytes: int | None = None
    # Offered when a mapping is created from the action rather than from a preset.
    default_trigger: str = ""
    read_response: ResponseReader | None = None
    read_error: ErrorReader | None = None
    refuse: Refusal | None = None
    # What Test mapping sends instead of `build`, where the vendor has a validation endpoint
    # or a test mode (GA4's debug server, Meta's test event code): a trial records nothing.
    build_test: Builder | None = None
    # What the dispatcher runs instead of sending `build`'s requests, for a destination that
    # is not an HTTP API; `build` still shows what a load would write (Test mapping's dry run).
    load: Loader | None = None

    def for_test(self) -> "Action":
        return replace(self, build=self.build_test) if self.build_test else self

    def default_fields(self) -> dict[str, Any]:
        return {f.key: f.default for f in self.fields if f.default is not NO_DEFAULT}


@dataclass(frozen=True)
class Preset:
    name: str
    action: str
    trigger: str
    fields: dict[str, Any] | None = None  # None: the action's default fields


@dataclass(frozen=True)
class ConnectionTest:
    request: Callable[[Config], Request] | None = None
    # Statuses that prove the credentials work (Metronome answers 400 to a valid token).
    ok_statuses: frozenset[int] = frozenset(range(200, 300))
    # Instead of a request, for a kind that is not an HTTP API (a warehouse): does its own
    # I/O and says whether the destination can be used, and what it found.
    run: Callable[[Config], tuple[bool, str]] | None = None


@dataclass(frozen=True)
class Kind:
    key: str
    name: str
    description: str
    docs_url: str
    default_base_url: str
    settings: tuple[Setting, ...]
    actions: tuple[Action, ...]
    presets: tuple[Preset, ...] = ()
    connection_test: ConnectionTest | None = None
    # The vendor builds per-user state from a sequence (profiles, aliases, contexts): its
    # destinations keep each user's order unless told otherwise.
    orders_per_user: bool = False
    all_settings: tuple[Setting, ...] = field(init=False)

    def __post_init__(self) -> None:
        base_url = Setting(
            "base_url",
            "Base URL",
            default=self.default_base_url,
            help="Where requests go; change it for a proxy, a regional endpoint or a test server.",
            advanced=True,
            chooses_host=True,
        )
        object.__setattr__(self, "all_settings", (*self.settings, base_url))

    def missing_secrets(self, config: Config) -> list[str]:
        """The labels of the required secrets `config` does not hold."""
        return [
            setting.label
            for setting in self.all_settings
            if setting.secret and setting.required and not config.get(setting.key)
        ]

    def flush_interval(self, config: Mapping[str, Any]) -> float | None:
        """The flush interval a setting imposes on the destination's mappings, if any."""
        for setting in self.settings:
            if setting.sets_flush_interval:
                return float(config.get(setting.key) or setting.default)
        return None

    def action(self, key: str) -> Action:
        for action in self.actions:
            if action.key == key:
                return action
        raise KeyError(f"{self.name} has no action '{key}'")


def json_request(
    method: str,
    url: str,
    body: Any,
    items: range | tuple[int, ...],
    headers: dict[str, str] | None = None,
) -> Request:
    return Request(
        method,
        url,
        {"Content-Type": "application/json", **(headers or {})},
        orjson.dumps(body),
        tuple(items),
    )
