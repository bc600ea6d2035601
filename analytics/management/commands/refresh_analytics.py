"""manage.py refresh_analytics [--rebuild]: bring the analytics rollup up to date now."""

from django.core.management.base import BaseCommand

from analytics.rollup import refresh


class Command(BaseCommand):
    help = (
        "Recount the analytics rollup's hours that changed since the last refresh (the schedule does it "
        "every minute); --rebuild recounts every hour from the raw tables."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="drop the rollup and count everything again")

    def handle(self, *args, rebuild: bool = False, **options) -> None:
        self.stdout.write(str(refresh(rebuild=rebuild)))
