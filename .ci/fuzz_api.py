#!/usr/bin/env python3
"""Fuzz the public API with schemathesis against a live server, as CI's bounded step.

Starts the project under gunicorn on a free port with a fresh database (SQLite in a temporary
folder, or a new PostgreSQL database next to DATABASE_URL's), loads the demo, creates one key
per scope, and runs `st run` with every check against /api/schema/: the write operations with
the events:write key, the read operations with the read key. Any failure fails the step.

    .venv/bin/python .ci/fuzz_api.py              # SQLite
    DATABASE_URL=postgres://…/journeys .venv/bin/python .ci/fuzz_api.py

Bounded: 50 examples per operation, a fixed seed (the same cases every run), a time limit.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python") if (BIN / "python").exists() else sys.executable
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "50")
SEED = os.environ.get("FUZZ_SEED", "11")
RUN_TIMEOUT = 900  # seconds for each schemathesis run: far above what it takes, never hangs CI

# Which key runs which operations (by OpenAPI tag).
SCOPES = {"events:write": ["events", "segment", "contacts"], "read": ["participants", "analytics"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(folder: Path) -> tuple[str, str | None]:
    """A fresh database for this run: its URL, and a PostgreSQL database name to drop after."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{folder / 'fuzz.sqlite3'}", None
    name = f"journeys_fuzz_{os.getpid()}"
    server = base.rsplit("/", 1)[0]
    _psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(server, f"CREATE DATABASE {name}")
    return f"{server}/{name}", name


def _psql(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server stopped before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the server did not answer {url} within {timeout:.0f} s")


def fuzz(base: str, key: str, tags: list[str], env: dict[str, str], folder: Path) -> int:
    command = [
        str(BIN / "st") if (BIN / "st").exists() else "st",
        "--config-file",
        str(ROOT / ".ci" / "schemathesis.toml"),
        "run",
        f"{base}/api/schema/",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {key}",
        *(arg for tag in tags for arg in ("--include-tag", tag)),
    ]
    print("$", " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer …" for c in command))
    try:
        # Run in the temporary folder: schemathesis keeps a cache of past failures in its working
        # directory and replays them, so every run starts from none (the same verdict each time).
        return subprocess.run(command, cwd=folder, env=env, timeout=RUN_TIMEOUT, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"schemathesis did not finish within {RUN_TIMEOUT} s")
        return 1


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="journeys-fuzz-") as tmp:
        folder = Path(tmp)
        url, pg_name = database_url(folder)
        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ENV_FILE": str(folder / ".env"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "REDIS_URL": "",
            "Q_BROKER": "orm",
            "LOG_LEVEL": "ERROR",
        }
        server = None
        try:
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "load_demo")
            # A contact for the consent operation to find (schemathesis.toml names it).
            manage(
                env,
                "shell",
                "-c",
                "from journeys.models import Contact; Contact.objects.create(external_id='fuzz-contact')",
            )
            keys = {}
            for scope in SCOPES:
                out = manage(env, "shell", "-c", _KEY_SCRIPT.format(scope=scope))
                keys[scope] = out.strip().splitlines()[-1]
            server = subprocess.Popen(
                [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/api/schema/", server)
            failed = [scope for scope, tags in SCOPES.items() if fuzz(base, keys[scope], tags, env, folder) != 0]
        finally:
            if server is not None and server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
            if pg_name:
                _psql(os.environ["DATABASE_URL"].rsplit("/", 1)[0], f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
    if failed:
        print(f"schemathesis found failures with the {', '.join(failed)} key(s)")
        return 1
    print("schemathesis: no failures")
    return 0


# The most generous limits the settings allow: the fuzzer is not there to test rate limits.
_KEY_SCRIPT = (
    "from django.conf import settings; from triggers.keys import create_api_key; "
    "print(create_api_key('fuzz {scope}', scope='{scope}', source='fuzz', "
    "rate_per_second=settings.API_KEY_MAX_RATE, burst=settings.API_KEY_MAX_BURST)[1])"
)

if __name__ == "__main__":
    sys.exit(main())
