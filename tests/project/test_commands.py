import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from ingest.models import Source


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_source_prints_a_random_url_safe_key_of_at_least_32_characters(db):
    key = run("create_source", "Web").strip()

    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", key)
    assert Source.objects.get(name="Web").write_key == key


def test_create_source_takes_a_given_key_and_is_idempotent(db):
    key = "k" * 40

    assert run("create_source", "Web", "--write-key", key).strip() == key
    assert run("create_source", "Web").strip() == key
    assert Source.objects.count() == 1


def test_create_source_refuses_a_short_key(db):
    with pytest.raises(CommandError, match="32 to 200 URL-safe characters"):
        run("create_source", "Web", "--write-key", "short")


def test_bootstrap_creates_the_admin_and_demo_source_once(db, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "correct horse battery")

    first = run("bootstrap", "--base-url", "http://localhost:9000")
    second = run("bootstrap")

    demo = Source.objects.get(name="Demo")
    assert get_user_model().objects.get(username="admin").check_password("correct horse battery")
    assert "correct horse battery" in first and "correct horse battery" not in second
    assert f"curl -s http://localhost:9000/v1/track -u '{demo.write_key}:'" in first
    assert demo.write_key in second
