"""python manage.py create_api_key NAME --scope SCOPE [--source S]: prints the key on its last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from triggers.keys import create_api_key
from triggers.models import ApiKeyScope


class Command(BaseCommand):
    help = "Create an API key and print it (alone on the last line). Only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. 'Shop website'.")
        parser.add_argument("--scope", required=True, choices=ApiKeyScope.values)
        parser.add_argument("--source", default="", help="Keys of one source share event ids (dedupe).")

    def handle(self, *args, name: str, scope: str, source: str, **options) -> None:
        try:
            api_key, raw = create_api_key(name, scope=scope, source=source)
        except ValidationError as error:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from error
        self.stderr.write(f"Created API key {api_key} with scope {scope}. Copy it now, it will not be shown again:")
        self.stdout.write(raw)
