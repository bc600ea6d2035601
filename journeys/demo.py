"""The seed scenario (journeys/examples/abandoned-cart.json): what `make run` loads.

Loaded once: when the demo journey exists already, nothing is touched, so a marketer's
edits survive another `make run`.
"""

import json
from pathlib import Path

from .bundles import import_bundle
from .models import Journey

SEED_BUNDLE = Path(__file__).parent / "examples" / "abandoned-cart.json"
SEED_JOURNEY = "abandoned-cart"


def load_demo() -> list[str]:
    """Import and publish the seed bundle unless its journey exists; return what was done."""
    if Journey.objects.filter(key=SEED_JOURNEY).exists():
        return []
    data = json.loads(SEED_BUNDLE.read_text())
    return import_bundle(data, publish_journeys=True).lines
