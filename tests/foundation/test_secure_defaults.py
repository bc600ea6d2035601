"""No default can be forged: a fresh install signs with a random key of its own (generated
once, kept in .env), DEBUG is off unless asked for, and the documented production settings
pass `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.secret_key import kept_secret_key

ROOT = Path(__file__).resolve().parents[2]
PRINT_KEY = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY, s.DEBUG)"

# The production .env of docs/operations.md (with a host of the test's own).
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "journeys.example.com",
    "SITE_URL": "https://journeys.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "PROVIDER_WEBHOOK_SECRET": "a-long-random-webhook-secret",
    "WEBHOOK_SIGNING_SECRET": "another-long-random-secret",
}


def _run(args: list[str], env_file: Path, **env: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests of this session, never in deployment.
    drop = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", *PRODUCTION}
    environment = {k: v for k, v in os.environ.items() if k not in drop}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings", ENV_FILE=str(env_file))
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_a_fresh_install_generates_its_own_key_once_and_keeps_it(tmp_path):
    env_file = tmp_path / ".env"

    first = _run(["-c", PRINT_KEY], env_file)
    again = _run(["-c", PRINT_KEY], env_file)
    elsewhere = _run(["-c", PRINT_KEY], tmp_path / "other.env")

    assert first.returncode == 0, first.stderr
    key, debug = first.stdout.split()
    assert len(key) >= 50 and debug == "False"
    assert again.stdout.split() == [key, "False"]
    assert elsewhere.stdout.split()[0] != key
    assert f"SECRET_KEY={key}\n" in env_file.read_text()
    assert env_file.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_a_key_already_in_the_file_or_the_environment_is_used(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SITE_URL=http://127.0.0.1:8000\nSECRET_KEY='kept-key-" + "k" * 40 + "'\n")
    given = "given-" + secrets.token_urlsafe(40)

    assert kept_secret_key(env_file) == "kept-key-" + "k" * 40
    assert _run(["-c", PRINT_KEY], env_file, SECRET_KEY=given).stdout.split()[0] == given
    assert env_file.read_text().count("SECRET_KEY") == 1


def test_an_unwritable_place_for_the_key_is_a_clear_error(tmp_path):
    result = _run(["-c", PRINT_KEY], tmp_path / "missing-folder" / ".env")

    assert result.returncode != 0
    assert "set SECRET_KEY in the environment" in result.stderr


def test_the_documented_production_settings_pass_check_deploy(tmp_path):
    key = secrets.token_urlsafe(50)

    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path / ".env", SECRET_KEY=key, **PRODUCTION
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"])
def test_check_deploy_names_a_missing_security_setting(tmp_path, missing):
    settings = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path / ".env",
        SECRET_KEY=secrets.token_urlsafe(50),
        **settings,
    )

    assert result.returncode != 0
    assert missing in result.stderr


def test_check_deploy_warns_when_webhook_calls_would_go_unsigned(tmp_path):
    settings = {k: v for k, v in PRODUCTION.items() if k != "WEBHOOK_SIGNING_SECRET"}

    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path / ".env",
        SECRET_KEY=secrets.token_urlsafe(50),
        **settings,
    )

    assert result.returncode == 1
    assert "(journeys.W010) WEBHOOK_SIGNING_SECRET is empty" in result.stderr
