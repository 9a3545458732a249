import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from ingest.sources import create_source


class Command(BaseCommand):
    help = "Create the admin user and the Demo source if missing, then print how to use them."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options):
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = self.ensure_admin(username)
        source, _ = create_source("Demo")
        self.stdout.write(
            WELCOME.format(
                base_url=base_url,
                username=username,
                password=password or "(unchanged; set ADMIN_PASSWORD to choose one)",
                write_key=source.write_key,
            )
        )

    def ensure_admin(self, username: str) -> str | None:
        """Create the superuser; returns the password only when it was set now."""
        users = get_user_model().objects
        if users.filter(username=username).exists():
            return None
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username, os.environ.get("ADMIN_EMAIL", ""), password)
        return password


WELCOME = """
Switchyard is starting.

  Admin:      {base_url}/admin/
  Login:      {username} / {password}
  Write key:  {write_key}   (source "Demo")

Send an event:

  curl -s {base_url}/v1/track -u '{write_key}:' \\
    -H 'Content-Type: application/json' \\
    -d '{{"userId": "user-1", "event": "Signed Up", "properties": {{"plan": "pro"}}}}'
"""
