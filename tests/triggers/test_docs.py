"""docs/api.md documents every error code the ingest API can answer with."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where codes are produced: a field error, an ApiError, an error response, a DRF exception code.
PRODUCERS = [
    r'errors\.add\(\s*[^,]+,\s*"([a-z_]+)"',
    r'FieldError\(\s*"[a-z_.]*",\s*"([a-z_]+)"',
    r'ApiError\(\s*\d+,\s*"([a-z_]+)"',
    r'error_response\(\s*\d+,\s*"([a-z_]+)"',
    r'code="([a-z_]+)"',
    r'"code": "([a-z_]+)"',
]


def _codes() -> set[str]:
    source = "\n".join(path.read_text() for path in (ROOT / "triggers").rglob("*.py") if "migrations" not in path.parts)
    return {code for pattern in PRODUCERS for code in re.findall(pattern, source)}


def test_every_error_code_is_documented():
    codes = _codes()
    documented = set(re.findall(r"`([a-z_]+)`", (ROOT / "docs" / "api.md").read_text()))

    assert len(codes) > 25, codes  # The patterns still find the producers.
    assert codes - documented == set()
