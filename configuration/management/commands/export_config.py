from django.core.management.base import BaseCommand, CommandError

from configuration.document import ConfigurationError
from configuration.exporting import export_configuration, render_configuration


class Command(BaseCommand):
    help = (
        "Print the sources, destinations, mappings, table sources, transformation libraries and "
        "transformations (their code inline) as JSON, for import_config; secrets, connection "
        "URLs (and write keys, unless --include-write-keys) as environment variable references."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--include-write-keys",
            action="store_true",
            help="write source write keys in clear, to move an installation as it is",
        )

    def handle(self, *args, include_write_keys: bool, **options):
        try:
            document = export_configuration(include_write_keys=include_write_keys)
        except ConfigurationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(render_configuration(document), ending="")
