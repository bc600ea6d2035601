"""Real processes on PostgreSQL: a segment-based journey imported from a bundle and
published enters its members through a real qcluster (the segment's rebuild, then the
entry pass), who get their first email at a real SMTP server; a contact updated through
the contacts API on gunicorn to match enters the dynamic journey; an excluded contact
never enters."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from journeys.contacts import put_contact
from journeys.models import Participant, Segment
from journeys.segments import set_static_members
from triggers.keys import create_api_key

from ..segments.conftest import vip_bundle
from .processes import wait_until
from .test_real_workers import ROOT, processes, smtp, start_web_and_cluster  # noqa: F401

pytestmark = pytest.mark.worker


def _import(path: Path, env: dict, *extra: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "import_journeys", str(path), *extra],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real workers run against PostgreSQL")
def test_a_segment_journey_runs_end_to_end_with_real_workers(transactional_db, smtp, processes, tmp_path):  # noqa: F811
    inbox, smtp_port = smtp
    put_contact("ana", {"email": "ana@example.com", "first_name": "Ana", "attributes": {"tier": "gold"}})
    dee = put_contact("dee", {"email": "dee@example.com", "attributes": {"tier": "gold"}}).contact
    _, raw_key = create_api_key("Shop website", scope="events:write", source="shop")
    bundle = tmp_path / "vip.json"
    bundle.write_text(json.dumps(vip_bundle(mode="dynamic")))
    web_port, env = start_web_and_cluster(processes, smtp_port)

    _import(bundle, env)  # segments and the draft; the workers build VIP
    set_static_members(Segment.objects.get(key="staff"), [dee.pk])
    _import(bundle, env, "--publish")

    wait_until(lambda: inbox.messages, 90, "the VIP email at the SMTP server")
    assert [m.rcpt_tos for m in inbox.messages] == [["ana@example.com"]]

    request = urllib.request.Request(
        f"http://127.0.0.1:{web_port}/api/v1/contacts/bo",
        data=json.dumps({"email": "bo@example.com", "attributes": {"tier": "gold"}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {raw_key}"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201

    wait_until(lambda: len(inbox.messages) >= 2, 90, "bo's email after joining VIP")
    assert sorted(m.rcpt_tos[0] for m in inbox.messages) == ["ana@example.com", "bo@example.com"]
    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "bo"]
