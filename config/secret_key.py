"""A SECRET_KEY of this install's own, never a published constant.

SECRET_KEY signs sessions, click, open and unsubscribe links: anyone who knows it can forge
them (a click token is an open redirect to any URL). With no SECRET_KEY in the environment,
the first process to start generates a random key and appends it to the .env file, where
every later process (web, workers, management commands) reads it.
"""

import fcntl
import os
import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 50
_LINE = re.compile(r"^\s*(?:export\s+)?SECRET_KEY\s*=\s*['\"]?([^'\"\s]+)['\"]?\s*$", re.MULTILINE)


def kept_secret_key(env_file: Path) -> str:
    """The SECRET_KEY stored in `env_file`, generated and stored there first if it has none.

    An exclusive lock makes processes starting together agree on one key; the file is
    created readable by its owner only.
    """
    try:
        fd = os.open(env_file, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as error:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {env_file} cannot be written to keep a generated one: "
            "set SECRET_KEY in the environment (at least 50 random characters)."
        ) from error
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        found = _LINE.search(text)
        if found:
            return found.group(1)
        key = secrets.token_urlsafe(MIN_LENGTH)  # 67 characters from [A-Za-z0-9_-]
        prefix = "" if not text or text.endswith("\n") else "\n"
        handle.write(f"{prefix}# Generated on first start (config/secret_key.py); keep it secret.\nSECRET_KEY={key}\n")
        handle.flush()
        os.fsync(handle.fileno())
        return key
