from django.core.management.base import BaseCommand

from journeys.sweep import sweep


class Command(BaseCommand):
    help = (
        "Advance every participant whose wait has ended and re-drive work lost tasks left behind. "
        "The workers run this every minute; run it by hand with --inline to do the work here."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--inline", action="store_true", help="Do the work in this process instead of enqueueing it."
        )

    def handle(self, *args, inline: bool, **options):
        report = sweep(inline=inline)
        self.stdout.write(
            f"{report.participants_due} participants due, {report.events_redriven} events and "
            f"{report.deliveries_redriven} deliveries re-driven"
        )
