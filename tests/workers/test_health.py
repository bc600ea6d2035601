"""/health/live, /health/ready, /health/engine, /metrics and `check_engine`: what a probe,
a supervisor and Prometheus see."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ

from journeys import health
from journeys.health import judge
from journeys.workers.heartbeats import record_cluster_beat, record_sweep

from .processes import ROOT

pytestmark = pytest.mark.django_db


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_an_engine_with_a_recent_sweep_a_beating_cluster_and_no_backlog_is_ok():
    assert judge(sweep_lag=_minutes(0.5), oldest_task_age=None, overdue=None, newest_cluster_age=_minutes(0.1)) == (
        "ok",
        [],
    )


def test_a_task_waiting_for_minutes_means_the_engine_is_stalled():
    status, reasons = judge(sweep_lag=_minutes(1), oldest_task_age=_minutes(6), overdue=None, newest_cluster_age=None)
    assert status == "stalled"
    assert reasons[0] == "a task has waited 360s"


def test_a_silent_cluster_or_a_late_sweep_is_degraded_not_stalled():
    assert judge(sweep_lag=_minutes(3), oldest_task_age=None, overdue=None, newest_cluster_age=_minutes(0.1))[0] == (
        "degraded"
    )
    assert judge(sweep_lag=None, oldest_task_age=None, overdue=None, newest_cluster_age=_minutes(2))[0] == "degraded"


def test_liveness_answers_whatever_the_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["journeys.example.com"]
    response = client.get("/health/live", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_is_503_when_the_database_does_not_answer(client, monkeypatch):
    assert client.get("/health/ready").json() == {"status": "ok", "problems": []}
    monkeypatch.setattr(health, "database_reachable", lambda: "database: OperationalError")
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["problems"] == ["database: OperationalError"]


def test_the_engine_endpoint_reports_a_healthy_engine(client):
    record_sweep({"seconds": 0.2})
    record_cluster_beat(queued=0, reincarnations=0)
    response = client.get("/health/engine")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["queued_tasks"] == 0
    assert body["sweep_duration_seconds"] == 0.2
    assert len(body["clusters"]) == 1


def test_a_task_stuck_in_the_queue_makes_the_engine_endpoint_503_and_check_engine_fail(client):
    record_sweep({"seconds": 0.2})
    record_cluster_beat(queued=3, reincarnations=0)
    OrmQ.objects.create(key="journeys", payload="-", lock=timezone.now() - _minutes(10))
    response = client.get("/health/engine")
    assert response.status_code == 503
    assert response.json()["status"] == "stalled"
    assert response.json()["queued_tasks"] == 1
    with pytest.raises(CommandError, match="engine stalled: a task has waited 6"):
        call_command("check_engine")


def test_check_engine_passes_on_a_healthy_engine(capsys):
    record_sweep({"seconds": 0.2})
    record_cluster_beat(queued=0, reincarnations=0)
    call_command("check_engine")
    assert "status: ok" in capsys.readouterr().out


def test_metrics_need_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-scraper-token"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scraper-token")
    assert response.status_code == 200
    text = response.content.decode()
    assert "journeys_queue_depth 0.0" in text
    assert 'journeys_engine_status{status="degraded"} 1.0' in text


def test_metrics_from_an_allowed_address(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.9").status_code == 404


def test_metrics_count_the_event_apis_answers_by_code(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    client.post("/api/v1/events", data={}, content_type="application/json")
    text = client.get("/metrics").content.decode()
    assert 'journeys_event_requests_total{code="401"}' in text


def test_the_development_server_keeps_no_connection_open_between_requests():
    code = (
        "import sys; sys.argv = ['manage.py', sys.argv[1]]; import django; django.setup();"
        "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "postgres://u@127.0.0.1:1/x"}
    env.pop("CONN_MAX_AGE", None)
    ages = {
        command: subprocess.run(
            [sys.executable, "-c", code, command], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for command in ("runserver", "run_workers")
    }
    assert ages == {"runserver": "0", "run_workers": "600"}


def test_metrics_count_task_runs_and_participants(client, settings):
    from journeys.signals import _on_task_done

    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    _on_task_done(None, task={"func": "journeys.tasks.advance_participants", "success": True})
    _on_task_done(None, task={"func": "journeys.tasks.advance_participants", "success": False})
    text = client.get("/metrics").content.decode()
    assert 'journeys_task_runs_total{func="journeys.tasks.advance_participants",outcome="success"}' in text
    assert 'journeys_task_runs_total{func="journeys.tasks.advance_participants",outcome="failure"}' in text
    assert "journeys_participants_entered_total" in text
