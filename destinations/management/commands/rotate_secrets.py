from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from destinations.services.destinations import reencrypt_secrets
from infra.encryption import SecretsUnreadable
from tables.secrets import reencrypt_connections


class Command(BaseCommand):
    help = (
        "Re-encrypt every destination secret and table source connection with the first key of "
        "SECRETS_KEYS. Rotate by putting a new key first (SECRETS_KEYS=new,old), running this, "
        "then dropping the old key."
    )

    def handle(self, *args, **options):
        try:
            # One transaction: an unreadable table source takes back the destinations too.
            with transaction.atomic():
                destinations = reencrypt_secrets()
                table_sources = reencrypt_connections()
        except SecretsUnreadable as error:
            raise CommandError(f"{error}; nothing was changed") from None
        self.stdout.write(
            f"Re-encrypted the secrets of {destinations} destination(s) and the connections of "
            f"{table_sources} table source(s)."
        )
