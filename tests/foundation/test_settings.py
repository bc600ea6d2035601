"""Configuration mistakes stop the project loudly instead of sending duplicates later."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from journeys.checks import q_cluster_errors

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"orm": "default", "timeout": 60, "retry": 120, "max_attempts": 5, "catch_up": False}


def _ids(conf: dict) -> list[str]:
    return [error.id for error in q_cluster_errors(conf)]


def test_the_shipped_queue_configuration_passes():
    from config import settings

    assert _ids(settings.Q_CLUSTER) == []
    assert settings.Q_CLUSTER["orm"] == "default"


def test_a_timeout_not_below_retry_is_an_error():
    assert _ids({**GOOD, "timeout": 120, "retry": 120}) == ["journeys.E002"]


def test_missing_timeout_or_retry_is_an_error():
    assert _ids({k: v for k, v in GOOD.items() if k != "retry"}) == ["journeys.E001"]


def test_unlimited_attempts_are_an_error():
    assert _ids({**GOOD, "max_attempts": 0}) == ["journeys.E003"]


def test_catch_up_is_an_error():
    assert _ids({**GOOD, "catch_up": True}) == ["journeys.E004"]
    assert _ids({k: v for k, v in GOOD.items() if k != "catch_up"}) == ["journeys.E004"]


def test_a_queue_without_broker_is_an_error():
    assert _ids({k: v for k, v in GOOD.items() if k != "orm"}) == ["journeys.E005"]


@override_settings(Q_CLUSTER={**GOOD, "timeout": 300})
def test_the_system_check_refuses_a_bad_queue_configuration():
    with pytest.raises(SystemCheckError, match="must be lower than 'retry'"):
        call_command("check")


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_old_published_development_key_is_refused():
    result = _load_settings(DEBUG="0", SECRET_KEY="insecure-development-key-change-me")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = _load_settings(DEBUG="0", SECRET_KEY="short")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = _load_settings(DEBUG="0", SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_redis_url_becomes_the_cache_and_the_broker():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.Q_CLUSTER.get('redis'), 'orm' in s.Q_CLUSTER)"
    )
    environment = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/3", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/3",
        "False",
    ], result.stderr
