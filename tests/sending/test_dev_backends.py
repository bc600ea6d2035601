"""Console and file backends for development: one JSON line per message."""

import io
import json

from django.test import override_settings

from content.backends import PushPayload, TextPayload, get_push_backend, get_text_backend
from content.backends.common import ConsoleBackend


def test_the_console_backend_prints_each_message_as_a_json_line(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(ConsoleBackend, "stream", stream)

    message_id = get_text_backend("content.backends.common.ConsoleBackend").send(
        TextPayload(to="+15551234567", body="Hi Ana", idempotency_key="3")
    )

    line = json.loads(stream.getvalue())
    assert line == {
        "id": message_id,
        "to": "+15551234567",
        "body": "Hi Ana",
        "sender": "",
        "idempotency_key": "3",
        "status_callback": "",
    }
    assert message_id.startswith("console-")


def test_the_file_backend_appends_messages_to_the_configured_file(tmp_path):
    path = tmp_path / "out" / "messages.jsonl"
    with override_settings(MESSAGES_FILE_PATH=str(path)):
        backend = get_push_backend("content.backends.common.FileBackend")
        backend.send(PushPayload(to="tok", title="T1", body="B1"))
        backend.send(PushPayload(to="tok", title="T2", body="B2"))

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["title"], line["body"]) for line in lines] == [("T1", "B1"), ("T2", "B2")]
    assert lines[0]["id"] != lines[1]["id"]
