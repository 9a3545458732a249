"""Slack: messages posted through an incoming webhook, https://api.slack.com/messaging/webhooks

The webhook URL is the whole credential: whoever holds it can post to the channel. It is
therefore a secret setting, and it is also where requests go. No other setting moves them:
the advanced base URL every kind has is unused here (as for the Webhook kind), so the stored
URL can only be replaced whole, by someone who types a new one.
"""

from typing import Any

from .base import (
    Action,
    Answer,
    Config,
    ConnectionTest,
    Field,
    ItemResult,
    Kind,
    Outcome,
    Preset,
    Request,
    Setting,
    json_request,
)

OPTIONAL_KEYS = ("channel", "username", "icon_url", "icon_emoji")
# The plain-text error codes an incoming webhook answers with (Slack's "Handling errors"
# table for incoming webhooks and its 2016-05-17 changelog on their status codes).
PAYLOAD_ERRORS = frozenset(
    {
        "invalid_payload",
        "no_text",
        "missing_text_or_fallback_or_attachments",
        "too_many_attachments",
        "invalid_blocks",
        "invalid_blocks_format",
        "user_not_found",
    }
)
# The URL itself no longer works: revoked, its app uninstalled, its workspace gone.
DEAD_WEBHOOK_ERRORS = frozenset(
    {"invalid_token", "no_service", "no_service_id", "no_team", "team_disabled"}
)
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
    }
)
STATUS_CODES = {403: "FORBIDDEN", 404: "NOT_FOUND", 410: "GONE"}


def webhook_url(config: Config) -> str:
    # Used exactly as typed: the attempt log masks the secret by its exact text, so a
    # cleaned-up copy of it would be shown in full.
    return config["webhook_url"]


def message(payload: dict[str, Any]) -> dict[str, Any]:
    body = {"text": payload["text"]}
    body |= {key: payload[key] for key in OPTIONAL_KEYS if payload.get(key)}
    return body


def build_messages(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    # An incoming webhook takes one message per request.
    return [
        json_request("POST", webhook_url(config), message(payload), (index,))
        for index, payload in enumerate(payloads)
    ]


def read_error(answer: Answer) -> ItemResult | None:
    """Slack's plain-text error codes, named in the result; None for any other answer."""
    error = answer.body[:100].decode("utf-8", errors="replace").strip()
    reason = f"HTTP {answer.status}: {error}"
    if error in PAYLOAD_ERRORS:
        return ItemResult(
            Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", f"{reason}: Slack refused the message"
        )
    if error in DEAD_WEBHOOK_ERRORS:
        explanation = "the webhook URL no longer works; create a new one in Slack"
        return ItemResult(Outcome.FAILED, "INVALID_AUTHENTICATION", f"{reason}: {explanation}")
    if error in CHANNEL_ERRORS and answer.status in STATUS_CODES:
        explanation = "Slack does not let the webhook post to this channel"
        return ItemResult(Outcome.FAILED, STATUS_CODES[answer.status], f"{reason}: {explanation}")
    return None


def test_request(config: Config) -> Request:
    """An empty message: Slack refuses it with 400 (no text) when the URL is a live webhook,
    and answers 403 or 404 when it is not; nothing is posted either way."""
    return json_request("POST", webhook_url(config), {}, ())


def escaped(expression: str) -> str:
    """A Liquid output of `expression` with the three characters Slack reads as markup
    escaped (https://api.slack.com/reference/surfaces/formatting#escaping): event data,
    which any holder of a public write key chooses, must not mention @channel or make links."""
    return (
        "{{ " + expression + ' | replace: "&", "&amp;" | replace: "<", "&lt;"'
        ' | replace: ">", "&gt;" }}'
    )


TRACK_MESSAGE = {"@liquid": f"*{escaped('event')}* by {escaped('userId | default: anonymousId')}"}

POST_MESSAGE = Action(
    key="post_message",
    title="Post Message",
    description="Post a message to the webhook's Slack channel.",
    fields=(
        Field(
            "text",
            "Message",
            "string",
            True,
            TRACK_MESSAGE,
            "The message, in Slack's mrkdwn; write it with @liquid, and escape event data as "
            "the default does (&, < and > are markup to Slack).",
        ),
        Field(
            "channel",
            "Channel",
            "string",
            description="Another channel, for legacy webhooks only: a Slack app's webhook "
            "always posts to the channel it was made for.",
        ),
        Field("username", "Username", "string", description="The name shown as the sender."),
        # A string, not a URL field: it is an image Slack loads, not where requests go.
        Field("icon_url", "Icon URL", "string", description="An image shown as the sender."),
        Field("icon_emoji", "Icon emoji", "string", description="An emoji such as :tada:."),
    ),
    build=build_messages,
    default_trigger='type = "track"',
    read_error=read_error,
)

KIND = Kind(
    key="slack",
    name="Slack",
    description="Events as messages in a Slack channel, through an incoming webhook.",
    docs_url="https://api.slack.com/messaging/webhooks",
    # Every request goes to the webhook URL, a secret; this stays empty and unused.
    default_base_url="",
    settings=(
        Setting(
            "webhook_url",
            "Webhook URL",
            "password",
            required=True,
            help="The incoming webhook's URL (https://hooks.slack.com/services/...). It is "
            "the credential and the address at once; Slack-compatible receivers work too.",
        ),
    ),
    actions=(POST_MESSAGE,),
    presets=(Preset("Post track events", "post_message", POST_MESSAGE.default_trigger),),
    # 400 is a live webhook refusing the empty test message.
    connection_test=ConnectionTest(test_request, frozenset({*range(200, 300), 400})),
)
