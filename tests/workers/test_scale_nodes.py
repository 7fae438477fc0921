"""Two nodes of everything on one database and one Redis: two web processes, two worker nodes and
two beats (each its own process group, multiprocess directory and /metrics).

A burst of codes sent through both webs is delivered once each and verifies once each; the
receipt sweep (a plain periodic job) runs once per period although both beats schedule it; and
Prometheus' view, the sum of every node's own /metrics, equals the exact counts.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import pairwise

import pytest

from tests.conftest import free_port
from tests.helpers import wait_for
from tests.metrics_helpers import TOKEN, Scrape
from tests.workers.chaos_stack import Process, Stack, report

pytestmark = [pytest.mark.scale, pytest.mark.integration]

BURST = 30
SWEEP = "resend-codes-without-receipt"
SWEEP_TASK = "workers.tasks.resend_codes_without_receipt"
PERIOD = 2.0  # MESSAGING_RECEIPT_SWEEP_SECONDS: a plain interval, sent whether or not there is work
SENT_LINE = re.compile(
    rf"^\[(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}}): INFO/\S+\] Scheduler: Sending due task {SWEEP} "
)


@dataclasses.dataclass
class Node:
    """One machine's share: a Stack view with its own environment (same database, Redis, sink)."""

    stack: Stack
    metrics_port: int

    def metrics(self, base: str) -> Scrape:
        request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return Scrape(response.read().decode())

    def web_metrics(self) -> Scrape:
        return self.metrics(self.stack.web)

    def worker_metrics(self) -> Scrape:
        return self.metrics(f"http://127.0.0.1:{self.metrics_port}")

    def start_worker(self) -> None:
        """This node's worker, serving its own /metrics (had the port been taken, the worker would
        log it and deliver on, and a scrape would read some other process's numbers)."""
        directory = self.stack.directory / f"worker-{self.metrics_port}"
        worker = self.stack.start_worker(PROMETHEUS_MULTIPROC_DIR=str(directory))
        listening = f"worker /metrics listening on 127.0.0.1:{self.metrics_port}"
        wait_for(lambda: listening in worker.output(), timeout=30, what="the worker's own /metrics")


def node(stack: Stack, name: str) -> Node:
    """Its own multiprocess directory (no disk shared with the other node) and metrics port."""
    directory = stack.directory / f"node-{name}"
    (directory / "web-metrics").mkdir(parents=True)
    port = free_port()
    env = {
        **stack.env,
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "web-metrics"),
        "WORKER_METRICS_HOST": "127.0.0.1",
        "WORKER_METRICS_PORT": str(port),
    }
    # The processes list is shared, so the chaos_stack fixture stops this node's processes too.
    return Node(dataclasses.replace(stack, env=env, web_port=0), port)


def sweeps_sent(beats: list[Process]) -> list[datetime]:
    """When each beat sent the sweep, from both beats' logs, in order."""
    times = [
        datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        for beat in beats
        for line in beat.output().splitlines()
        if (match := SENT_LINE.match(line))
    ]
    return sorted(times)


def total(scrapes: list[Scrape], name: str, **labels: str) -> float:
    return sum(scrape.value(name, **labels) for scrape in scrapes)


def test_two_nodes_deliver_a_burst_once_run_each_sweep_once_and_their_metrics_add_up(chaos_stack: Stack):
    chaos_stack.env.update(
        MESSAGING_RECEIPT_SWEEP_SECONDS=str(PERIOD),
        CELERY_WORKER_CONCURRENCY="2",
        OTP_SEND_LIMIT_PER_IP="1000",  # every request of the burst comes from 127.0.0.1
    )
    nodes = [node(chaos_stack, name) for name in ("a", "b")]
    for each in nodes:
        each.stack.start_web()
        each.start_worker()
    beats = [each.stack.start_beat() for each in nodes]
    recipients = [f"burst{i}@example.com" for i in range(BURST)]

    with ThreadPoolExecutor(8) as pool:  # every other code through the other web node
        statuses = list(pool.map(lambda i: nodes[i % 2].stack.send(recipients[i]), range(BURST)))
    assert statuses == [202] * BURST
    chaos_stack.sink.wait_for(BURST, timeout=120)
    codes = chaos_stack.sink.codes_by_recipient()
    with ThreadPoolExecutor(8) as pool:  # each code verified through the node that did not take it
        verified = list(
            pool.map(lambda i: nodes[(i + 1) % 2].stack.verify(recipients[i], codes[recipients[i]]), range(BURST))
        )
    assert verified == [200] * BURST

    # The sweep: both beats schedule it every PERIOD seconds; watch five periods of it.
    wait_for(lambda: len(sweeps_sent(beats)) >= 5, timeout=60, what="five runs of the sweep")
    first_beat = next(beat for beat in beats if any(SENT_LINE.match(line) for line in beat.output().splitlines()))
    first_beat.kill()  # the other beat takes over within a period
    taken_over = len(sweeps_sent(beats))
    wait_for(lambda: len(sweeps_sent(beats)) >= taken_over + 2, timeout=30, what="the other beat to send the sweep")
    for beat in beats:
        beat.kill()
    sent = sweeps_sent(beats)
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(sent)]
    # Once per period: never two runs within 0.9 of it (the lock's life), less 0.3 s for the time
    # between a beat's claim and its log line on a loaded machine. Two unlocked beats would leave
    # gaps that add up to one period, one of them at most half of it.
    assert min(gaps) >= 0.9 * PERIOD - 0.3, gaps
    # ...and never a period without one while a beat is alive (the takeover may take one more).
    assert max(gaps) <= 2 * PERIOD + 1, gaps

    # Every node's own /metrics; Prometheus would sum them, so does this test.
    webs = [each.web_metrics() for each in nodes]
    workers = [each.worker_metrics() for each in nodes]
    wait_for(
        lambda: (
            total([each.worker_metrics() for each in nodes], "messaging_worker_tasks_total", task=SWEEP_TASK)
            >= len(sent)
        ),
        timeout=30,
        what="the workers to finish every sweep sent",
    )
    workers = [each.worker_metrics() for each in nodes]
    per_recipient = Counter(chaos_stack.sink.per_recipient)
    report(
        "two nodes of each kind, one beat killed: the other's next run after",
        gaps[taken_over - 1],
        burst=BURST,
        sweeps=len(sent),
        deliveries_per_worker="/".join(str(int(w.value("messaging_messages_total", status="sent"))) for w in workers),
    )

    assert set(per_recipient) == set(recipients) and set(per_recipient.values()) == {1}
    assert chaos_stack.log_statuses() == {"sent": BURST}
    assert total(webs, "otp_sends_total", channel="email", result="accepted") == BURST
    assert all(web.value("otp_sends_total", result="accepted") > 0 for web in webs)
    assert total(webs, "otp_verifies_total", result="success") == BURST
    assert total(workers, "messaging_messages_total", channel="email", status="sent") == BURST
    assert all(worker.value("messaging_messages_total", status="sent") > 0 for worker in workers)
    assert total(workers, "messaging_provider_attempts_total", provider="smtp", outcome="sent") == BURST
    assert total(workers, "messaging_worker_tasks_total", task="workers.tasks.deliver_otp", state="SUCCESS") == BURST
    assert total(workers, "messaging_worker_tasks_total", task=SWEEP_TASK) == len(sent)
    # Counters come from the node that counted them: a worker reports no send, a web no delivery.
    assert total(workers, "otp_sends_total") == 0 and total(webs, "messaging_messages_total") == 0
