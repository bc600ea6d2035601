from django.core.management.base import BaseCommand

from journeys.workers.supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run the task workers (a django-q2 cluster) under a supervisor that restarts them when "
        "they die or stop making progress, and stops everything cleanly on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--stall-after",
            type=float,
            default=None,
            help="Seconds without a task started, while tasks wait, before the cluster is restarted "
            "(default: Q_TIMEOUT + 30).",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Seconds a stopping cluster gets to finish before it is killed (default: Q_TIMEOUT + 5).",
        )

    def handle(self, *args, stall_after: float | None, grace: float | None, **options) -> None:
        Supervisor(stall_after=stall_after, grace=grace).run()
