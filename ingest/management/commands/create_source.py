from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ingest.sources import create_source


class Command(BaseCommand):
    help = "Create a source (or find the one with that name) and print its write key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--write-key", help="use this key instead of a random one")

    def handle(self, *args, name: str, write_key: str | None, **options):
        try:
            source, _ = create_source(name, write_key)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(source.write_key)
