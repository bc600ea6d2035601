from django.core.management.base import BaseCommand
from django.db import transaction

from journeys.demo import load_demo


class Command(BaseCommand):
    help = "Load the seed demo (abandoned-cart triggers and content). Existing rows are left untouched."

    def handle(self, *args, **options):
        with transaction.atomic():
            created = load_demo()
        if created:
            self.stdout.write(self.style.SUCCESS("Loaded the demo: " + ", ".join(created)))
        else:
            self.stdout.write("The demo is loaded already.")
