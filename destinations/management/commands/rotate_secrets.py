from django.core.management.base import BaseCommand, CommandError

from destinations.services import reencrypt_secrets
from infra.encryption import SecretsUnreadable


class Command(BaseCommand):
    help = (
        "Re-encrypt every destination secret with the first key of SECRETS_KEYS. Rotate by "
        "putting a new key first (SECRETS_KEYS=new,old), running this, then dropping the old key."
    )

    def handle(self, *args, **options):
        try:
            count = reencrypt_secrets()
        except SecretsUnreadable as error:
            raise CommandError(f"{error}; nothing was changed") from None
        self.stdout.write(f"Re-encrypted the secrets of {count} destination(s).")
