"""Sessions, users and messages serve the admin and pass over the Tracking API."""

import pytest


@pytest.mark.django_db
def test_the_tracking_api_answers_without_touching_sessions_or_cookies(client, source):
    response = client.post(
        "/v1/track",
        f'{{"writeKey": "{source.write_key}", "userId": "u1", "event": "Clicked"}}',
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.cookies == {}
    assert "Cookie" not in response.headers.get("Vary", "")
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


@pytest.mark.django_db
def test_the_admin_keeps_its_session_and_user(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert response.wsgi_request.user.is_superuser
    assert response.wsgi_request.session.session_key
