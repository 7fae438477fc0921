"""docker-compose.yml, run for real: the project's image, its services and volumes, under podman.

The stack is built and started once for this module (tests/deploy/compose_stack.py) and the tests
use it as an operator would. They hold in any order (`pytest -p randomly`): each sends the codes
it reads, and a test that stops, downs or removes part of the stack marks it disturbed, so that
the next test gets a fresh stack (`down -v` + `up`). Where podman cannot run containers the module
is skipped with the reason, except under CI=true, where that is a failure. `make compose-test`
runs only this module.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.deploy.compose_stack import ROOT, ComposeStack, HttpAnswer, http, wait_for, why_podman_cannot_run
from tests.helpers import code_in
from tests.metrics_helpers import Scrape

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

SEND = "/api/v1/auth/otp/send"
VERIFY = "/api/v1/auth/otp/verify"


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    reason = why_podman_cannot_run()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the compose stack must run under CI: {reason}")
        pytest.skip(reason)
    started = time.monotonic()
    compose = ComposeStack(tmp_path_factory.mktemp("compose"))
    # Local state the image must not take in (.dockerignore), present while it is built.
    canary = ROOT / ".run" / "compose-test-canary"
    canary.parent.mkdir(exist_ok=True)
    canary.write_text("not for the image\n")
    try:
        compose.build_image()
    finally:
        canary.unlink()
    built = time.monotonic()
    compose.start_api()
    try:
        compose.up()
        wait_until_healthy(compose)
        print(f"\ncompose stack: image built in {built - started:.0f} s, up in {time.monotonic() - built:.0f} s")
        yield compose
    finally:
        compose.compose("down", "-v", "--timeout", "10", check=False)
        compose.stop_api()


@pytest.fixture
def stack(compose_stack: ComposeStack) -> ComposeStack:
    """The module's stack, up and healthy: a fresh one if an earlier test disturbed it."""
    if compose_stack.disturbed:
        compose_stack.compose("down", "-v", "--timeout", "10", check=False)
        compose_stack.up()
        wait_until_healthy(compose_stack)
        compose_stack.disturbed = False
    return compose_stack


def wait_until_healthy(compose: ComposeStack) -> None:
    wait_for("GET /health to answer 200", lambda: True if health(compose).status == 200 else None, timeout=120)


def new_recipient(name: str) -> str:
    """An address no other test used, so no limit or cooldown of another test applies."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def web(compose: ComposeStack, path: str, *, https: bool = True, **kwargs: Any) -> HttpAnswer:
    """A request as the TLS proxy in front would pass it on (X-Forwarded-Proto), or plain HTTP."""
    headers = {"Host": f"localhost:{compose.web_port}", **kwargs.pop("headers", {})}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    return http(compose.url(path), headers=headers, **kwargs)


def health(compose: ComposeStack) -> HttpAnswer:
    try:
        return web(compose, "/health", https=False)
    except OSError:
        return HttpAnswer(0, {}, b"")


def mailed_code(compose: ComposeStack, recipient: str) -> str:
    messages = wait_for(f"a message to {recipient} at the SMTP sink", lambda: compose.mail_to(recipient) or None, 60)
    return code_in(messages[-1].get_body(("plain",)).get_content())


@pytest.fixture
def verified(stack: ComposeStack) -> dict[str, Any]:
    """One code sent through the API, delivered by the worker to the SMTP sink, and verified."""
    alice = new_recipient("alice")
    # The proxy appends the client's address to X-Forwarded-For.
    client = {"X-Forwarded-For": "203.0.113.7"}
    sent = web(stack, SEND, method="POST", body={"email": alice}, headers=client)
    assert sent.status == 202, sent.body
    code = mailed_code(stack, alice)
    answer = web(stack, VERIFY, method="POST", body={"email": alice, "purpose": "verification", "code": code})
    again = web(stack, VERIFY, method="POST", body={"email": alice, "purpose": "verification", "code": code})
    return {"recipient": alice, "code": code, "answer": answer, "again": again}


def test_migrations_ran_once_in_the_migrate_service_before_the_rest_started(stack: ComposeStack) -> None:
    assert stack.exit_code("migrate") == 0
    applied = stack.logs("migrate").count("Applying ")
    assert applied > 0
    assert applied == int(stack.psql("SELECT count(*) FROM django_migrations"))
    finished = stack.state("migrate")["FinishedAt"]
    for service in ("web", "worker", "beat", "flower"):
        assert "Applying " not in stack.logs(service)
        assert stack.state(service)["StartedAt"] > finished, f"{service} started before migrate finished"


def test_the_image_holds_no_local_state_and_runs_as_app_on_read_only_code(stack: ComposeStack) -> None:
    web_container = stack.container("web")
    entries = stack.podman("exec", web_container, "ls", "-A", "/app").stdout.split()
    assert {".run", ".venv", ".env", ".git", "db.sqlite3", "tests"}.isdisjoint(entries), entries
    assert "staticfiles" in entries  # collected at build time, by root
    assert stack.podman("exec", web_container, "id", "-un").stdout.strip() == "app"
    writable = "for d in /app /app/staticfiles /var/lib/otp /var/lib/otpsvc-metrics; do [ -w $d ] && echo $d; done"
    assert stack.podman("exec", web_container, "sh", "-c", writable, check=False).stdout.split() == [
        "/var/lib/otp",
        "/var/lib/otpsvc-metrics",
    ]
    static = web(stack, "/static/otp/signup.js")
    assert static.status == 200


def test_health_answers_200_with_database_redis_and_workers_ok(stack: ComposeStack) -> None:
    answer = health(stack)
    assert answer.status == 200
    assert {name: check["ok"] for name, check in answer.json()["checks"].items()} == {
        "database": True,
        "redis": True,
        "workers": True,
    }


def test_plain_http_is_sent_to_https_and_the_proxys_https_is_trusted(stack: ComposeStack) -> None:
    plain = http(stack.url("/signup/"), headers={"Host": "otp.example.com"})
    assert plain.status == 400  # not an allowed host: no redirect to a name the client picked
    plain = http(stack.url("/signup/"), headers={"Host": "localhost"})
    assert (plain.status, plain.headers["location"]) == (301, "https://localhost/signup/")
    proxied = web(stack, "/signup/")
    assert proxied.status == 200
    assert "max-age=31536000" in proxied.headers["strict-transport-security"]


def test_a_code_reaches_the_smtp_sink_through_the_worker_and_verifies_once(
    stack: ComposeStack, verified: dict[str, Any]
) -> None:
    assert "provider=smtp outcome=sent recipient=a***@example.com" in stack.logs("worker")
    assert verified["answer"].status == 200
    assert verified["answer"].json()["verified"] is True
    assert verified["again"].status == 400
    assert verified["code"] not in stack.logs("web") + stack.logs("worker")


def test_the_per_ip_limit_counts_the_client_the_proxy_names(stack: ComposeStack) -> None:
    def ip_keys() -> set[str]:
        keys = stack.podman("exec", stack.container("redis"), "redis-cli", "--scan", "--pattern", "otpsvc:{send}:ip:*")
        return set(keys.stdout.split())

    before = ip_keys()
    client = {"X-Forwarded-For": "203.0.113.9"}
    sent = web(stack, SEND, method="POST", body={"email": new_recipient("carol")}, headers=client)
    assert sent.status == 202, sent.body
    assert ip_keys() - before == {"otpsvc:{send}:ip:203.0.113.9"}


def test_the_recovery_sweep_on_beat_delivers_a_code_whose_task_was_lost(stack: ComposeStack) -> None:
    bob = new_recipient("bob")
    stack.disturbed = True  # until the worker is back
    stack.compose("stop", "worker")
    sent = web(stack, SEND, method="POST", body={"email": bob})
    assert sent.status == 202, sent.body
    # The queued delivery is lost, as with a broker that restarted empty before any worker took it.
    wait_for("the delivery in RabbitMQ", lambda: broker_queue(stack, "delivery") == 1 or None, timeout=60)
    stack.podman("exec", stack.container("rabbitmq"), "rabbitmqctl", "-q", "purge_queue", "delivery")
    wait_for("an empty delivery queue", lambda: broker_queue(stack, "delivery") == 0 or None, timeout=30)
    # The worker's own container again: `compose start` would also run its dependency, the one-shot
    # migrate service, once more, and later tests read when migrate finished.
    stack.podman("start", stack.container("worker"))
    stack.disturbed = False
    mailed_code(stack, bob)
    # The sweep runs on the background worker (queue `sweeps`); the code goes out through the delivery worker.
    assert "event=otp.recovery republished=1" in stack.logs("worker-background")
    assert "Sending due task recover-undelivered-codes" in stack.logs("beat")


def broker_queue(stack: ComposeStack, name: str) -> int:
    """Messages in a RabbitMQ queue of the stack (ready and unacknowledged)."""
    listed = stack.podman("exec", stack.container("rabbitmq"), "rabbitmqctl", "-q", "list_queues", "name", "messages")
    counts = dict(line.split("\t") for line in listed.stdout.splitlines() if "\t" in line)
    return int(counts.get(name, -1))


def test_flower_answers_with_its_login_and_refuses_without_it(stack: ComposeStack) -> None:
    login = {"Authorization": "Basic " + base64.b64encode(stack.flower_login.encode()).decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"ops:wrong").decode()}
    wait_for("Flower to answer", lambda: True if _answers(stack.flower_url("/"), login) else None, 60)
    assert http(stack.flower_url("/"), headers=login).status == 200
    for path in ("/", "/metrics", "/healthcheck"):
        assert http(stack.flower_url(path)).status == 401, path
        assert http(stack.flower_url(path), headers=wrong).status == 401, path


def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return http(url, headers=headers).status == 200
    except OSError:
        return False


def test_metrics_with_the_token_count_the_sends_of_web_and_worker(
    stack: ComposeStack, verified: dict[str, Any]
) -> None:
    assert web(stack, "/metrics", https=False).status == 401
    answer = web(stack, "/metrics", https=False, headers={"Authorization": f"Bearer {stack.metrics_token}"})
    assert answer.status == 200
    scrape = Scrape(answer.body.decode())
    assert scrape.value("otp_sends_total", channel="email", result="accepted") >= 1
    assert scrape.value("otp_verifies_total", result="success") >= 1
    # Counted by the worker container and served by it on WORKER_METRICS_PORT, where Prometheus
    # scrapes it (its counts start again with each start of its container: at least this test's message).
    fetch = (
        "import sys, urllib.request; request = urllib.request.Request('http://127.0.0.1:9100/metrics', "
        "headers={'Authorization': 'Bearer ' + sys.argv[1]}); print(urllib.request.urlopen(request).read().decode())"
    )
    worker_metrics = stack.podman("exec", stack.container("worker"), "python", "-c", fetch, stack.metrics_token)
    worker_scrape = Scrape(worker_metrics.stdout)
    assert worker_scrape.value("messaging_messages_total", channel="email", status="sent") >= 1


def test_the_signing_keys_survive_down_and_up(stack: ComposeStack, verified: dict[str, Any]) -> None:
    before = web(stack, "/.well-known/jwks.json").json()
    stack.disturbed = True  # its containers are new: their logs and counters start again
    stack.compose("down", "--timeout", "10")
    assert stack.leftovers().keys() == {"volumes"}
    stack.up()
    wait_for("GET /health to answer 200 again", lambda: True if health(stack).status == 200 else None, timeout=120)
    after = web(stack, "/.well-known/jwks.json").json()
    assert after == before
    token = verified["answer"].json()["verification_token"]
    key = jwt.PyJWKSet.from_dict(after)[jwt.get_unverified_header(token)["kid"]].key
    assert jwt.decode(token, key, algorithms=["ES256"], issuer="otp-service")["recipient"] == verified["recipient"]
    assert "No migrations to apply." in stack.logs("migrate")


def test_down_with_volumes_leaves_nothing_behind(stack: ComposeStack) -> None:
    stack.disturbed = True
    stack.compose("down", "-v", "--timeout", "10")
    assert stack.leftovers() == {}
