from django.core.management.base import BaseCommand, CommandError

from journeys.models import Segment, SegmentKind
from journeys.segments import member_count, rebuild_now, start_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the members of segments (all condition segments, or those named) in bounded batches. "
        "By default the batches go to the workers; with --inline they run here."
    )

    def add_arguments(self, parser):
        parser.add_argument("keys", nargs="*", help="Segment keys (default: every condition segment).")
        parser.add_argument("--inline", action="store_true", help="Do the work in this process.")

    def handle(self, *args, keys: list[str], inline: bool, **options):
        segments = Segment.objects.filter(kind=SegmentKind.CONDITIONS).order_by("key")
        if keys:
            missing = sorted(set(keys) - set(segments.filter(key__in=keys).values_list("key", flat=True)))
            if missing:
                raise CommandError(f"no condition segment with key {', '.join(missing)}")
            segments = segments.filter(key__in=keys)
        for segment in segments:
            if inline:
                rebuild_now(segment)
                self.stdout.write(f"segment {segment.key}: {member_count(segment)} members")
            else:
                start_rebuild(segment)
                self.stdout.write(f"segment {segment.key}: rebuild enqueued")
