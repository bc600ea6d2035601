import json

from django.core.management.base import BaseCommand, CommandError

from journeys.health import engine_health


class Command(BaseCommand):
    help = (
        "Print the engine's health (what /health/engine answers) and exit non-zero when it is "
        "stalled: for supervisors, probes and cron."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON instead of lines of text.")
        parser.add_argument(
            "--strict", action="store_true", help="Also exit non-zero when the engine is only degraded."
        )

    def handle(self, *args, json: bool, strict: bool, **options) -> None:
        health = engine_health()
        if json:
            self.stdout.write(_dumps(health.as_json()))
        else:
            self.stdout.write(f"status: {health.status}")
            for reason in health.reasons:
                self.stdout.write(f"  - {reason}")
            self.stdout.write(f"last sweep: {health.last_sweep or 'never'}")
            self.stdout.write(f"queued tasks: {health.queued_tasks}")
            age = health.oldest_queued_task_age_seconds
            self.stdout.write(f"oldest queued task: {'-' if age is None else f'{age:.0f}s'}")
            for cluster in health.clusters:
                self.stdout.write(f"cluster {cluster.name}: last heartbeat {cluster.age_seconds:.0f}s ago")
        if health.status == "stalled" or (strict and health.status != "ok"):
            raise CommandError(f"engine {health.status}: {'; '.join(health.reasons)}")


def _dumps(data: dict) -> str:
    return json.dumps(data, indent=2)
