"""Real processes: a gunicorn web server and a qcluster on PostgreSQL take an API event to
an email delivered to a real SMTP server (aiosmtpd on loopback)."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from journeys.demo import load_demo
from journeys.models import Delivery
from triggers.keys import create_api_key

from .processes import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict) -> subprocess.Popen:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(process)
        return process

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def engine_env(smtp_port: int, site_url: str) -> dict:
    """The environment of the real web and worker processes: this test database, one worker,
    email to the test's SMTP server, no Redis."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SITE_URL": site_url,
        "Q_WORKERS": "1",
        "REDIS_URL": "",
    }


def start_web_and_cluster(processes, smtp_port: int) -> tuple[int, dict]:
    """A gunicorn web server (one worker) and a qcluster on this test database, listening:
    the web port and the processes' environment."""
    web_port = free_port()
    env = engine_env(smtp_port, site_url=f"http://127.0.0.1:{web_port}")
    web = processes(
        str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{web_port}", "-w", "1", env=env
    )
    processes(sys.executable, "manage.py", "qcluster", env=env)
    wait_until(lambda: _port_open(web_port) or web.poll() is not None, 30, "gunicorn to listen")
    assert web.poll() is None, web.stdout.read().decode()
    return web_port, env


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real workers run against PostgreSQL")
def test_an_api_event_reaches_a_real_smtp_server_through_real_workers(transactional_db, smtp, processes):
    inbox, smtp_port = smtp
    load_demo()
    _, raw_key = create_api_key("Shop website", scope="events:write", source="shop")
    web_port, _ = start_web_and_cluster(processes, smtp_port)

    body = {
        "trigger": "abandoned_cart",
        "event_id": "evt-1",
        "contact": {"id": "ana", "email": "ana@example.com", "first_name": "Ana"},
        "attributes": {"cart_total": 80},
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{web_port}/api/v1/events",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {raw_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202

    wait_until(lambda: inbox.messages, 60, "the email at the SMTP server")
    message = inbox.messages[0]
    assert message.rcpt_tos == ["ana@example.com"]
    content = message.content.decode()
    assert "Subject: Ana, you left something in your cart" in content
    wait_until(
        lambda: Delivery.objects.filter(step__key="initial-email", status="sent").exists(),
        30,
        "the delivery marked sent",
    )
    assert len(inbox.messages) == 1
