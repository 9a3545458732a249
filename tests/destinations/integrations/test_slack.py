"""Slack incoming webhooks: https://api.slack.com/messaging/webhooks

Segment's counterpart is packages/destination-actions/src/destinations/slack/postToChannel/
index.ts. Where they differ the vendor wins: the webhook URL is the credential, so here it is
a secret setting rather than a mapping field, and Segment's defaults for the sender ("Segment"
and its logo) are left out, so a message shows the name and icon the webhook was made with.
"""

import pytest

from destinations.delivery.exchanges import attempt_record, redact_text
from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import slack
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination, secret_origins
from infra.encryption import MASK, Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

HOOK_PATH = "/services/T0001/B0001/Xa1b2c3d4e5f6"
DEFAULTS = slack.POST_MESSAGE.default_fields()


def send(httpserver, sample_events, fields=None):
    secrets = {"webhook_url": httpserver.url_for(HOOK_PATH)}
    return deliver(
        httpserver, "slack", "post_message", sample_events, secrets=secrets, fields=fields
    )


def answer_with(httpserver, status, body, headers=None):
    httpserver.expect_request(HOOK_PATH).respond_with_data(body, status=status, headers=headers)


def test_a_track_event_becomes_one_message_posted_to_the_webhook_url(httpserver):
    answer_with(httpserver, 200, "ok")

    received, results = send(httpserver, [events.track(1)])

    assert_json_request(received[0], "POST", HOOK_PATH, {"text": "*API Call* by user-1"}, {})
    # The URL is the credential: nothing else authenticates the request.
    assert "Authorization" not in received[0].headers
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_the_channel_username_and_icons_chosen_by_the_mapping_go_in_the_message(httpserver):
    """Slack's message payload keys: text, channel, username, icon_url, icon_emoji."""
    answer_with(httpserver, 200, "ok")
    fields = DEFAULTS | {
        "channel": "#alerts",
        "username": "Switchyard",
        "icon_url": "https://acme.example/bot.png",
        "icon_emoji": ":tada:",
    }

    received, _ = send(httpserver, [events.track(1)], fields)

    body = {
        "text": "*API Call* by user-1",
        "channel": "#alerts",
        "username": "Switchyard",
        "icon_url": "https://acme.example/bot.png",
        "icon_emoji": ":tada:",
    }
    assert_json_request(received[0], "POST", HOOK_PATH, body, {})


def test_overrides_that_render_empty_are_left_out_of_the_message(httpserver):
    answer_with(httpserver, 200, "ok")
    fields = DEFAULTS | {"channel": {"@path": "$.properties.channel"}, "username": ""}

    received, _ = send(httpserver, [events.track(1)], fields)

    assert_json_request(received[0], "POST", HOOK_PATH, {"text": "*API Call* by user-1"}, {})


def test_every_message_is_its_own_request():
    """An incoming webhook posts one message per request: the action does not batch."""
    config = Config({}, Secrets({"webhook_url": "https://hooks.slack.com" + HOOK_PATH}), "")
    payloads = [prepare(slack.POST_MESSAGE, DEFAULTS, events.track(n)) for n in (1, 2, 3)]

    requests = slack.POST_MESSAGE.build(config, payloads)

    assert [request.items for request in requests] == [(0,), (1,), (2,)]
    assert (slack.POST_MESSAGE.batching, slack.POST_MESSAGE.max_batch_size) == (False, 1)


def test_the_message_text_is_a_liquid_template_that_escapes_event_data(httpserver):
    """Slack reads &, < and > as markup (https://api.slack.com/reference/surfaces/formatting
    #escaping): an event named "<!channel>" must not notify the whole channel."""
    answer_with(httpserver, 200, "ok")
    hostile = events.track(1, event="<!channel> <https://evil.example|prize> & more")

    received, _ = send(httpserver, [hostile])

    text = "*&lt;!channel&gt; &lt;https://evil.example|prize&gt; &amp; more* by user-1"
    assert_json_request(received[0], "POST", HOOK_PATH, {"text": text}, {})


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (400, "invalid_payload", "PAYLOAD_VALIDATION_FAILED"),
        (400, "no_text", "PAYLOAD_VALIDATION_FAILED"),
        (400, "too_many_attachments", "PAYLOAD_VALIDATION_FAILED"),
        (403, "invalid_token", "INVALID_AUTHENTICATION"),
        (404, "no_service", "INVALID_AUTHENTICATION"),
        (404, "no_team", "INVALID_AUTHENTICATION"),
        (404, "channel_not_found", "NOT_FOUND"),
        (410, "channel_is_archived", "GONE"),
        (403, "action_prohibited", "FORBIDDEN"),
        (403, "posting_to_general_channel_denied", "FORBIDDEN"),
    ],
)
def test_slacks_plain_text_errors_fail_the_message_with_their_meaning(
    httpserver, status, error, code
):
    """The codes and statuses of Slack's incoming webhook errors (https://api.slack.com/
    messaging/webhooks#handling_errors; https://api.slack.com/changelog/
    2016-05-17-changes-to-errors-for-incoming-webhooks). A dead webhook counts against the
    destination (INVALID_AUTHENTICATION shows it as failing); a refused message only fails."""
    answer_with(httpserver, status, error)

    _, [result] = send(httpserver, [events.track(1)])

    assert (result.outcome, result.code) == (Outcome.FAILED, code)
    assert result.message.startswith(f"HTTP {status}: {error}: ")


def test_an_unknown_error_text_is_left_to_the_generic_rules(httpserver):
    answer_with(httpserver, 404, "<html>Not Found</html>")

    _, [result] = send(httpserver, [events.track(1)])

    assert (result.outcome, result.code) == (Outcome.FAILED, "NOT_FOUND")


def test_slacks_rollup_error_is_retried(httpserver):
    """HTTP 500 rollup_error: "something strange and unusual happened that was likely not
    your fault" (Slack's 2016-05-17 changelog)."""
    answer_with(httpserver, 500, "rollup_error")

    _, [result] = send(httpserver, [events.track(1)])

    assert (result.outcome, result.code) == (Outcome.RETRY, "INTERNAL_SERVER_ERROR")


def test_a_rate_limited_message_is_retried_after_slacks_retry_after(httpserver):
    """Over about one message per second Slack answers 429 with Retry-After in seconds
    (https://api.slack.com/docs/rate-limits)."""
    answer_with(httpserver, 429, '{"ok":false,"error":"rate_limited"}', {"Retry-After": "30"})

    _, [result] = send(httpserver, [events.track(1)])

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        30.0,
    )


@pytest.mark.parametrize(
    ("status", "body", "valid"),
    [
        (400, "no_text", True),
        (400, "invalid_payload", True),
        (404, "no_service", False),
        (403, "invalid_token", False),
        (410, "channel_is_archived", False),
    ],
)
def test_the_connection_test_posts_an_empty_message_that_slack_refuses(
    httpserver, db, status, body, valid
):
    """A live webhook refuses a message without text (400) and posts nothing; a revoked or
    unknown one answers 403 or 404, an archived channel's 410."""
    answer_with(httpserver, status, body)
    secrets = {"webhook_url": httpserver.url_for(HOOK_PATH)}
    destination = create_destination("slack", "Alerts", secrets=secrets)

    check = check_connection(destination)

    [(request, _)] = httpserver.log
    assert_json_request(request, "POST", HOOK_PATH, {}, {})
    assert check.ok is valid


def test_the_webhook_url_alone_chooses_where_requests_go():
    """The secret is the address: the base URL every kind has moves nothing, so no setting
    an editor may change without knowing the secret can send it elsewhere."""
    url = "https://hooks.slack.com" + HOOK_PATH
    destination = Destination(kind="slack", settings={"base_url": "https://evil.example"})
    destination.set_secrets({"webhook_url": url})
    config = destination.config()
    payload = prepare(slack.POST_MESSAGE, DEFAULTS, events.track(1))

    [request] = slack.POST_MESSAGE.build(config, [payload])

    assert request.url == url
    assert slack.KIND.connection_test.request(config).url == url
    assert not any(setting.chooses_host for setting in slack.KIND.settings)


def test_the_secret_is_bound_to_no_origin_but_its_own(db):
    """services.secret_origins binds secrets to what host settings name; Slack has none, the
    URL being the secret itself, so replacing it means typing a new one."""
    destination = create_destination(
        "slack", "Alerts", secrets={"webhook_url": "https://hooks.slack.com" + HOOK_PATH}
    )

    assert secret_origins(destination) == frozenset()


def test_the_attempt_log_masks_the_whole_webhook_url(httpserver):
    answer_with(httpserver, 404, "no_service")
    url = httpserver.url_for(HOOK_PATH)
    config = Config({}, Secrets({"webhook_url": url}), "")
    payload = prepare(slack.POST_MESSAGE, DEFAULTS, events.track(1))

    [sent] = send_batch(slack.POST_MESSAGE, config, [payload])
    record = attempt_record(sent, config.secret_values)

    assert record["request_url"] == MASK
    assert url not in str(record)


def test_the_webhook_url_is_used_exactly_as_typed_so_that_logs_can_mask_it():
    """Logs mask a secret by its exact text: a cleaned-up copy of it would show in full."""
    typed = "https://hooks.slack.com" + HOOK_PATH + " "  # pasted with a trailing space
    config = Config({}, Secrets({"webhook_url": typed}), "")
    payload = prepare(slack.POST_MESSAGE, DEFAULTS, events.track(1))

    [request] = slack.POST_MESSAGE.build(config, [payload])

    assert redact_text(request.url, config.secret_values) == MASK


def test_test_mapping_posts_a_real_message():
    """Incoming webhooks have no test mode: "Send test event" posts to the channel."""
    assert slack.POST_MESSAGE.build_test is None
    assert slack.POST_MESSAGE.for_test() is slack.POST_MESSAGE
