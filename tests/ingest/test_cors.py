ORIGIN = "https://shop.example.com"


def test_a_preflight_allows_any_origin_to_post_json_with_basic_auth(anonymous_api):
    response = anonymous_api.options(
        "/v1/t",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed and "authorization" in allowed
    assert int(response.headers["access-control-max-age"]) > 0


def test_a_browser_post_gets_cors_headers(api):
    response = api.post(
        "/v1/t",
        content=b'{"userId": "u1", "event": "Clicked"}',
        headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
    )

    assert response.json() == {"success": True}
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)


def test_an_error_answer_also_gets_cors_headers_so_the_browser_can_read_it(anonymous_api):
    response = anonymous_api.post("/v1/t", content=b"{}", headers={"Origin": ORIGIN})

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)
