"""GET /v1/projects/<writeKey>/settings: the settings analytics.js asks its CDN for (issue 17)."""

from ingest.models import Source

ORIGIN = "https://shop.example.com"


def settings_path(write_key: str) -> str:
    return f"/v1/projects/{write_key}/settings"


def test_a_known_key_gets_settings_that_point_analytics_js_at_this_server(
    anonymous_api, live_server, source
):
    response = anonymous_api.get(settings_path(source.write_key))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    host = live_server.url.removeprefix("http://")
    assert document["integrations"] == {
        "Segment.io": {
            "apiKey": source.write_key,
            "apiHost": f"{host}/v1",
            "protocol": "http",
            "addBundledMetadata": False,
            "unbundledIntegrations": [],
            "maybeBundledConfigIds": {},
        }
    }
    assert document["plan"]["track"]["__default"]["enabled"] is True
    assert document["edgeFunction"] == {}
    assert document["analyticsNextEnabled"] is True
    assert document["middlewareSettings"] == {}
    assert document["enabledMiddleware"] == {}
    assert document["metrics"]["sampleRate"] == 0
    assert document["legacyVideoPluginsEnabled"] is False
    assert document["remotePlugins"] == []


def test_behind_a_tls_proxy_the_settings_say_https_and_the_host_asked_for(client, settings, source):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["events.example.com"]

    response = client.get(
        settings_path(source.write_key),
        headers={"Host": "events.example.com", "X-Forwarded-Proto": "https"},
    )

    segment = response.json()["integrations"]["Segment.io"]
    assert (segment["protocol"], segment["apiHost"]) == ("https", "events.example.com/v1")


def test_without_the_proxy_setting_a_forwarded_proto_is_not_believed(client, source):
    response = client.get(settings_path(source.write_key), headers={"X-Forwarded-Proto": "https"})

    assert response.json()["integrations"]["Segment.io"]["protocol"] == "http"


def test_an_unknown_key_gets_a_404_with_a_json_body(anonymous_api, db):
    response = anonymous_api.get(settings_path("no-such-key"))

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no enabled source has this key",
    }


def test_a_disabled_source_key_gets_a_404(anonymous_api, db):
    disabled = Source.objects.create(name="Retired app", enabled=False)

    response = anonymous_api.get(settings_path(disabled.write_key))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_cross_origin_get_gets_cors_headers(anonymous_api, source):
    response = anonymous_api.get(settings_path(source.write_key), headers={"Origin": ORIGIN})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)


def test_a_404_also_gets_cors_headers_so_the_browser_can_read_it(anonymous_api, db):
    response = anonymous_api.get(settings_path("no-such-key"), headers={"Origin": ORIGIN})

    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)


def test_posting_to_the_settings_is_refused(anonymous_api, source):
    response = anonymous_api.post(settings_path(source.write_key), content=b"{}")

    assert response.status_code == 405
