from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from journeys.definition import BundleError
from journeys.simulation import SimulationError, format_timeline, parse_event, simulate


class Command(BaseCommand):
    help = (
        "Run a journey on a virtual clock for one contact and a list of events, in a transaction "
        "that is rolled back: nothing is kept, nothing is sent. Prints the timeline."
    )

    def add_arguments(self, parser):
        parser.add_argument("journey", help="Journey key, or a bundle file (its first journey, or --journey).")
        parser.add_argument("--journey", dest="journey_key", help="Which journey of the bundle file to run.")
        parser.add_argument("--contact", required=True, help='The contact as JSON, e.g. {"id": "t1", "email": "…"}.')
        parser.add_argument(
            "--event",
            action="append",
            default=[],
            help="'OFFSET TRIGGER {attributes}', e.g. '0s abandoned_cart {\"cart_total\": 80}'. Repeat for more.",
        )
        parser.add_argument("--json", action="store_true", help="Print the timeline as JSON.")

    def handle(
        self, *args, journey: str, journey_key: str | None, contact: str, event: list[str], json: bool, **options
    ):
        import json as json_module

        try:
            contact_data = json_module.loads(contact)
        except json_module.JSONDecodeError as e:
            raise CommandError(f"--contact is not JSON: {e.msg}") from e
        if not isinstance(contact_data, dict):
            raise CommandError("--contact must be a JSON object")
        bundle, key = None, journey
        path = Path(journey)
        if journey.endswith(".json") or path.is_file():
            try:
                bundle = json_module.loads(path.read_text())
            except (OSError, json_module.JSONDecodeError) as e:
                raise CommandError(f"cannot read the bundle {journey}: {e}") from e
            journeys = bundle.get("journeys") if isinstance(bundle, dict) else None
            key = journey_key or str(journeys[0].get("key") or "" if journeys else "")
            if not key:
                raise CommandError(f"{journey} has no journey to run")
        try:
            events = [parse_event(text) for text in event]
            timeline = simulate(key, contact_data, events, bundle=bundle)
        except (SimulationError, BundleError) as e:
            raise CommandError(str(e)) from e
        if json:
            self.stdout.write(json_module.dumps([entry.as_dict() for entry in timeline], indent=2))
        else:
            self.stdout.write(format_timeline(timeline))
