"""Workers die: every accepted code still reaches a provider, with the project's default settings."""

from __future__ import annotations

import time

import pytest

from tests.helpers import wait_for
from tests.workers.chaos_stack import report

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

BURST = 16


def test_kill_9_of_every_worker_process_mid_burst_loses_no_code(chaos_stack):
    kill_9_mid_burst(chaos_stack, "Redis")


def kill_9_mid_burst(stack, broker: str) -> float:
    """The worker killed while it holds claimed codes mid-send; seconds from its restart until
    every code arrived (each verifies, none sent twice)."""
    stack.sink.hold_after = 4  # four codes go through, then the worker is caught mid-send
    stack.start_web()
    stack.start_beat()
    worker = stack.start_worker()
    recipients = [f"burst{i}@example.com" for i in range(BURST)]
    assert [stack.send(to) for to in recipients] == [202] * BURST
    wait_for(lambda: stack.sink.held >= 2, timeout=60, what="two sends held in SMTP DATA")

    worker.kill()
    wait_for(stack.sink.held_clients_gone, timeout=10, what="the sink to see the killed worker's connections close")
    stack.sink.release()
    restarted = time.monotonic()
    stack.start_worker()

    # On Redis bound by the claim lease (40 s) and one sweep (5 s): the dead worker's tasks wait
    # for the visibility timeout. On RabbitMQ they come back at once and take over the dead
    # process's claims once its liveness key has expired (5 s). The rest is headroom.
    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=120, what="every code to arrive")
    recovery = time.monotonic() - restarted
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * BURST
    duplicates = sum(count - 1 for count in stack.sink.per_recipient.values())
    report(f"kill -9 worker mid-burst ({broker})", recovery, codes=BURST, lost=0, duplicates=duplicates)
    assert duplicates == 0  # the held sends never reached the provider: nothing may be sent twice
    assert wait_for(lambda: stack.log_statuses() == {"sent": BURST}, timeout=30, what="every log row sent")
    return recovery


def test_sigterm_lets_the_worker_finish_what_it_holds_and_nothing_is_sent_twice(chaos_stack):
    stack = chaos_stack
    stack.sink.hold_after = 3
    stack.start_web()
    stack.start_beat()
    worker = stack.start_worker()
    recipients = [f"term{i}@example.com" for i in range(10)]
    assert [stack.send(to) for to in recipients] == [202] * 10
    wait_for(lambda: stack.sink.held >= 2, timeout=60, what="two sends held in SMTP DATA")

    started = time.monotonic()
    worker.popen.terminate()  # warm shutdown: finish the tasks in hand, take no new ones
    stack.sink.release()
    worker.terminate()
    stack.start_worker()

    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=60, what="every code to arrive")
    report("SIGTERM worker mid-burst", time.monotonic() - started, codes=10, lost=0)
    assert stack.sink.per_recipient == dict.fromkeys(recipients, 1)
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 10
