import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from configuration.document import ConfigurationError
from configuration.importing import ImportSummary, import_configuration, parse_configuration


class Command(BaseCommand):
    help = (
        "Create or update sources, destinations, mappings, table sources, transformation "
        "libraries and transformations, by name, from a file written by export_config; secrets "
        "come from the environment variables the file names."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the JSON file, or - for standard input")
        parser.add_argument(
            "--prune",
            action="store_true",
            help=(
                "delete the mappings (and their deliveries) of the file's destinations that "
                "the file does not list, and, when it has a table_sources (transformations, "
                "transformation_libraries) section, the table sources (transformations, "
                "libraries) it does not list"
            ),
        )

    def handle(self, *args, path: str, prune: bool, **options):
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        try:
            summary = import_configuration(parse_configuration(text), prune=prune)
        except ConfigurationError as error:
            raise CommandError(f"{error} (nothing was imported)") from error
        for line in summary_lines(summary):
            self.stdout.write(line)


def summary_lines(summary: ImportSummary) -> list[str]:
    lines = []
    sections = ("sources", "destinations", "mappings", "table_sources")
    sections += ("transformation_libraries", "transformations")
    for section in sections:
        count = summary.counts[section]
        line = f"{section}: {count['created']} created, {count['updated']} updated, "
        line += f"{count['unchanged']} unchanged"
        lines.append(line + (f", {count['removed']} removed" if count["removed"] else ""))
    return lines + summary.notes
