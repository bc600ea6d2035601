"""Console, file and in-memory backends shared by text and push (development and tests)."""

import dataclasses
import json
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

# Like django.core.mail.outbox: tests read what was "sent" here. Cleared by the tests.
text_outbox: list[Any] = []
push_outbox: list[Any] = []
_file_lock = threading.Lock()


def _as_json(message: Any, message_id: str) -> str:
    return json.dumps({"id": message_id, **dataclasses.asdict(message)}, ensure_ascii=False)


class ConsoleBackend:
    """Writes each message as one JSON line to standard output."""

    stream = sys.stdout

    def send(self, message: Any) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        self.stream.write(_as_json(message, message_id) + "\n")
        self.stream.flush()
        return message_id


class FileBackend:
    """Appends each message as one JSON line to a file (MESSAGES_FILE_PATH)."""

    def send(self, message: Any) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        path = Path(settings.MESSAGES_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock, path.open("a", encoding="utf-8") as handle:
            handle.write(_as_json(message, message_id) + "\n")
        return message_id


class LocmemTextBackend:
    def send(self, message: Any) -> str:
        text_outbox.append(message)
        return f"locmem-text-{len(text_outbox)}"


class LocmemPushBackend:
    def send(self, message: Any) -> str:
        push_outbox.append(message)
        return f"locmem-push-{len(push_outbox)}"
