from django.db import connection

TRACK = {"userId": "u1", "event": "Signed Up"}


def test_an_unreachable_database_answers_503_with_retry_after(api, monkeypatch):
    # The live server opens a fresh connection per request from these shared settings.
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/db.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")

    response = api.post("/v1/track", json=TRACK)

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0
