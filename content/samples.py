"""Sample render data for previews, test sends and content checks."""

from typing import Any

SAMPLE_UNSUBSCRIBE_URL = "https://example.com/u/sample-unsubscribe-link"

SAMPLE_CONTEXT: dict[str, Any] = {
    "contact": {
        "id": "sample-contact",
        "email": "ana@example.com",
        "phone": "+15551234567",
        "first_name": "Ana",
        "last_name": "Silva",
        "time_zone": "Europe/Lisbon",
    },
    "trigger": {
        "cart_total": 59.9,
        "currency": "EUR",
        "cart": {"items": [{"name": "Blue mug", "quantity": 2, "price": 12.5}, {"name": "Tea", "quantity": 1}]},
        "url": "https://shop.example.com/cart",
    },
    "unsubscribe_url": SAMPLE_UNSUBSCRIBE_URL,
    "journey": {"key": "sample-journey", "name": "Sample journey"},
}
