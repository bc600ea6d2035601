from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from journeys.bundles import NotJson, import_bundle, load_bundle_text
from journeys.definition import BundleError


class Command(BaseCommand):
    help = "Create or update triggers, content and journeys from a bundle file (see docs/journey-format.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the JSON bundle, or - for standard input.")
        parser.add_argument("--publish", action="store_true", help="Publish each journey's draft version.")

    def handle(self, *args, file: str, publish: bool, **options):
        try:
            text = self.stdin.read() if file == "-" else Path(file).read_text()  # type: ignore[attr-defined]
        except OSError as e:
            raise CommandError(f"cannot read {file}: {e.strerror}") from e
        try:
            report = import_bundle(load_bundle_text(text), publish_journeys=publish)
        except NotJson as e:
            raise CommandError(f"{file} is not valid JSON: {e}") from e
        except BundleError as e:
            for error in e.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(e.errors)} error(s); nothing was imported.") from e
        for line in report.lines:
            self.stdout.write(line)
