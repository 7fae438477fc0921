"""/metrics counts every process: a gunicorn with 2 workers and a Celery worker with 2 children.

The web and the worker run as they do in docker-compose: the production settings module,
gunicorn with deploy/gunicorn.conf.py, each group with its own PROMETHEUS_MULTIPROC_DIR, and
each serving its own /metrics (the web's; the worker's on WORKER_METRICS_PORT), which Prometheus
adds up. They also log with LOG_FORMAT=json.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from messaging.models import CommunicationLog, MessageStatus
from tests import conftest
from tests.conftest import ROOT, free_port
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for
from tests.metrics_helpers import TOKEN, Scrape

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

SENDS = 3  # below the breaker's threshold of 5: every send tries SendGrid first
SMTP_PRICE = 0.0012


def post(base: str, path: str, body: dict) -> int:
    request = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def get_metrics(base: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/metrics", headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""
    except urllib.error.URLError:
        return 0, ""  # not listening yet


def pids_in(directory: Path) -> set[str]:
    return {match.group(1) for f in directory.glob("counter_*.db") if (match := re.search(r"_(\d+)\.db$", f.name))}


@pytest.fixture
def stack(tmp_path, settings, smtp_sink, silent_url, start_worker):
    """gunicorn (2 workers) and a Celery worker (2 children); SendGrid never answers, SMTP delivers."""
    web_dir, worker_dir = tmp_path / "metrics-web", tmp_path / "metrics-worker-1"
    (web_dir / "stale_from_an_earlier_run").mkdir(parents=True)  # emptied when gunicorn starts
    overrides = {
        "DJANGO_SETTINGS_MODULE": "otpsite.settings",
        "MESSAGING_EMAIL_PROVIDERS": "sendgrid,smtp",
        "SENDGRID_API_KEY": "SG.test-key",
        "SENDGRID_API_HOST": silent_url,
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": str(smtp_sink.port),
        "MESSAGING_PRICES_JSON": json.dumps({"smtp": {"per_message": str(SMTP_PRICE)}}),
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
    }
    # prefork (not the default threads pool): each child writes its own files, which the worker's
    # /metrics merges.
    worker_port = free_port()
    worker = start_worker(
        concurrency=2,
        pool="prefork",
        **overrides,
        PROMETHEUS_MULTIPROC_DIR=str(worker_dir),
        WORKER_METRICS_HOST="127.0.0.1",
        WORKER_METRICS_PORT=str(worker_port),
    )
    env = {
        **os.environ,
        **overrides,
        "DATABASE_URL": conftest.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PROMETHEUS_MULTIPROC_DIR": str(web_dir),
        "PYTHONUNBUFFERED": "1",
        "WEB_CONCURRENCY": "2",
    }
    port = free_port()
    web_log = tmp_path / "gunicorn.log"
    with open(web_log, "wb") as output:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get_metrics(base, None)[0] == 401 or web.poll() is not None, timeout=60, what="gunicorn")
        assert web.poll() is None, web_log.read_text()
        yield base, web_dir, worker_dir, web_log, worker, f"http://127.0.0.1:{worker_port}"
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_metrics_count_a_send_a_failover_and_a_verify_across_every_process(stack, smtp_sink):
    base, web_dir, worker_dir, web_log, worker, worker_base = stack
    recipients = [f"metrics{i}@example.com" for i in range(SENDS)]
    with ThreadPoolExecutor(SENDS) as pool:  # at once, so both gunicorn workers and both children take part
        statuses = list(pool.map(lambda r: post(base, SEND_URL, {"email": r, "purpose": "signup"}), recipients))
    assert statuses == [202] * SENDS
    messages = smtp_sink.wait_for(SENDS, timeout=60)
    assert len(messages) == SENDS
    first = next(m for m in messages if m["To"] == recipients[0])
    code = code_in(first.get_body(("plain",)).get_content())
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    wrong_verifies = 0
    # Wrong guesses from other recipients until both gunicorn workers have answered something.
    while len(pids_in(web_dir)) < 2 and wrong_verifies < 40:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: post(base, VERIFY_URL, {"email": f"x{i}@example.com",
                                                                     "purpose": "signup", "code": wrong}),
                                    range(wrong_verifies, wrong_verifies + 4)))  # fmt: skip
        assert answers == [400] * 4
        wrong_verifies += 4
    assert post(base, VERIFY_URL, {"email": recipients[0], "purpose": "signup", "code": wrong}) == 400
    assert post(base, VERIFY_URL, {"email": recipients[0], "purpose": "signup", "code": code}) == 200
    wait_for(lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).count() == SENDS, what="logs settled")

    status, text = get_metrics(base, TOKEN)
    assert status == 200
    scrape = Scrape(text)
    status, text = get_metrics(worker_base, TOKEN)
    assert status == 200
    worker_scrape = Scrape(text)

    assert len(pids_in(web_dir)) >= 2, "both gunicorn workers served requests"
    assert len(pids_in(worker_dir)) >= 2, "both pool children delivered"
    assert not (web_dir / "stale_from_an_earlier_run").exists()
    assert scrape.value("otp_sends_total", channel="email", result="accepted") == SENDS
    assert scrape.value("otp_verifies_total", result="success") == 1
    assert scrape.value("otp_verifies_total", result="failure") == wrong_verifies + 1
    attempts = "messaging_provider_attempts_total"
    assert worker_scrape.value(attempts, channel="email", provider="sendgrid", outcome="provider_fault") == SENDS
    assert worker_scrape.value(attempts, channel="email", provider="smtp", outcome="sent") == SENDS
    assert worker_scrape.value("messaging_failovers_total", channel="email", provider="smtp") == SENDS
    assert worker_scrape.value("messaging_messages_total", channel="email", status="sent") == SENDS
    assert worker_scrape.value("messaging_messages_total", status="failed") == 0
    assert worker_scrape.value("messaging_cost_usd_total", provider="smtp") == pytest.approx(SENDS * SMTP_PRICE)
    # The web counts no delivery, and the worker no send nor the state read at scrape time.
    assert scrape.value(attempts) == 0 and scrape.value("messaging_messages_total") == 0
    assert worker_scrape.value("otp_sends_total") == 0 and "messaging_breaker_state" not in worker_scrape.names
    # Every message waited out SendGrid's read timeout (1.5 s) before SMTP took it.
    assert worker_scrape.value("messaging_accept_to_provider_seconds_count", channel="email") == SENDS
    assert worker_scrape.value("messaging_accept_to_provider_seconds_bucket", channel="email", le="1.0") == 0
    call = "messaging_provider_call_seconds"
    assert worker_scrape.value(f"{call}_count", provider="sendgrid", outcome="provider_fault") == SENDS
    assert worker_scrape.value(f"{call}_bucket", provider="sendgrid", outcome="provider_fault", le="1.0") == 0
    assert scrape.value("messaging_breaker_state", provider="sendgrid") == 0
    assert scrape.value("messaging_undelivered_messages", channel="email") == 0
    assert scrape.value("messaging_queue_depth", queue="delivery") == 0
    reported = {sample.labels["queue"] for sample in scrape.samples if sample.name == "messaging_queue_depth"}
    assert reported == {"delivery", "receipts", "sweeps", "retention", "callbacks"}  # every queue a worker consumes
    assert scrape.value("messaging_metrics_source_up") == 3

    # LOG_FORMAT=json: every line the service logs is one JSON object, recipients masked, no code.
    worker.stop()
    for output in (web_log.read_text(), worker.output()):
        assert code not in output and recipients[0] not in output
        assert "event=" not in output
    web_lines = [line for line in web_log.read_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in web_lines), web_lines  # gunicorn's own lines too
    events = [json.loads(line) for line in web_lines + worker.output().splitlines() if line.startswith("{")]
    sends = [e for e in events if e.get("event") == "otp.send"]
    attempts_logged = [e for e in events if e.get("event") == "messaging.attempt"]
    assert len(sends) == SENDS and {e["recipient"] for e in sends} == {"m***@example.com"}
    logged = {(e["provider"], e["outcome"]) for e in attempts_logged}
    assert logged == {("sendgrid", "provider_fault"), ("smtp", "sent")}
    assert all({"time", "level", "logger"} <= set(e) for e in events)


def test_metrics_refuse_a_scrape_without_the_token_or_with_a_wrong_one(stack):
    for base in (stack[0], stack[-1]):  # the web's and the worker's
        assert get_metrics(base, None)[0] == 401
        assert get_metrics(base, "wrong-token")[0] == 403
        assert get_metrics(base, TOKEN)[0] == 200
