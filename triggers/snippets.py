"""Integration snippets for a trigger: what a website developer pastes (pure functions).

The admin's trigger screen shows them with the trigger's real attributes as the example
payload, so the first request a developer sends already passes validation.
"""

import json
import pprint
from collections.abc import Iterable
from typing import Any, TypedDict

from .validation import AttributeSpec

# One plausible value per attribute type; `object` children are filled from their own specs.
EXAMPLE_VALUES: dict[str, Any] = {
    "text": "text",
    "number": 42,
    "boolean": True,
    "datetime": "2026-11-28T12:00:00Z",
    "list": ["a", "b"],
}
API_KEY_PLACEHOLDER = "<your events:write API key>"


class Snippets(TypedDict):
    curl: str
    javascript: str
    python: str


def example_attributes(specs: Iterable[AttributeSpec]) -> dict[str, Any]:
    """An attributes object that satisfies the specs: every declared attribute, nested ones
    under their object (`cart.currency` inside `cart`)."""
    attributes: dict[str, Any] = {}
    for spec in sorted(specs, key=lambda s: s.name.count(".")):
        *parents, name = spec.name.split(".")
        node = attributes
        for parent in parents:
            child = node.setdefault(parent, {})
            if not isinstance(child, dict):
                break  # A child declared under a non-object: the admin's validation reports it.
            node = child
        else:
            node.setdefault(name, {} if spec.type == "object" else EXAMPLE_VALUES[spec.type])
    return attributes


def example_event(trigger_key: str, specs: Iterable[AttributeSpec]) -> dict[str, Any]:
    """A complete POST /api/v1/events body for the trigger."""
    return {
        "trigger": trigger_key,
        "event_id": "order-981-abandoned",
        "contact": {"id": "cust-42", "email": "ana@example.com", "phone": "+15551234567"},
        "attributes": example_attributes(specs),
        "timestamp": "2026-11-28T12:00:00Z",
    }


def integration_snippets(site_url: str, event: dict[str, Any]) -> Snippets:
    """curl, JavaScript `fetch` and Python `requests` calls sending `event`."""
    url = f"{site_url.rstrip('/')}/api/v1/events"
    body = json.dumps(event, indent=2)
    inline = json.dumps(event, indent=2).replace("'", "'\\''")  # Safe inside single quotes in a shell.
    curl = (
        f"curl -X POST {url} \\\n"
        f'  -H "Authorization: Bearer $JOURNEYS_API_KEY" \\\n'
        f'  -H "Content-Type: application/json" \\\n'
        f"  -d '{inline}'"
    )
    javascript = (
        "// Node 18+ or your server: keep the key out of pages served to browsers.\n"
        "const JOURNEYS_API_KEY = process.env.JOURNEYS_API_KEY;\n"
        f'const response = await fetch("{url}", {{\n'
        f'  method: "POST",\n'
        f"  headers: {{\n"
        f'    "Authorization": `Bearer ${{JOURNEYS_API_KEY}}`,\n'
        f'    "Content-Type": "application/json",\n'
        f"  }},\n"
        f"  body: JSON.stringify({_indent(body, 2)}),\n"
        f"}});\n"
        f"if (response.status !== 202) console.error(await response.json());"
    )
    python = (
        "import os\n\nimport requests\n\n"
        f"event = {_python_literal(event)}\n"
        f"response = requests.post(\n"
        f'    "{url}",\n'
        f'    headers={{"Authorization": f"Bearer {{os.environ[\'JOURNEYS_API_KEY\']}}"}},\n'
        f"    json=event,\n"
        f"    timeout=5,\n"
        f")\n"
        f"response.raise_for_status()  # 202: stored; the body has its id and `duplicate`."
    )
    return Snippets(curl=curl, javascript=javascript, python=python)


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def _python_literal(value: Any) -> str:
    """The payload as a Python literal (True, None …), in the order of the JSON."""
    return pprint.pformat(value, width=88, sort_dicts=False)
