import json

from django.core.management.base import BaseCommand, CommandError

from journeys.bundles import export_bundle
from journeys.definition import BundleError


class Command(BaseCommand):
    help = "Write journeys (all, or the keys given) with their triggers and content as a JSON bundle."

    def add_arguments(self, parser):
        parser.add_argument("keys", nargs="*", help="Journey keys; all journeys when none are given.")
        parser.add_argument("--output", "-o", help="File to write instead of standard output.")

    def handle(self, *args, keys: list[str], output: str | None, **options):
        try:
            bundle = export_bundle(keys)
        except BundleError as e:
            raise CommandError("; ".join(e.errors)) from e
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w") as f:
                f.write(text)
        else:
            self.stdout.write(text, ending="")
