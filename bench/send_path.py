"""Cost of the send path: the send endpoint under gunicorn and OTP delivery by a Celery worker.

Usage (from the repository root; PostgreSQL and Redis on 127.0.0.1, e.g. after `make services`):

    .venv/bin/python bench/send_path.py            # or: make bench

It uses its own database and Redis dbs, whatever DATABASE_URL or REDIS_URL the shell holds:
postgres://postgres@127.0.0.1:5432/otpsvc_bench (created and migrated here; its message and code
tables are emptied), redis://127.0.0.1:6379/7 for limits and breakers and redis://127.0.0.1:6379/8
as the broker (both flushed). Move them with BENCH_DATABASE_URL, BENCH_REDIS_URL and
BENCH_BROKER_URL. Send limits are raised so no request is refused.

Every figure is also given as a ratio to a baseline measured in the same run:

1. `POST /api/v1/auth/otp/send` served by gunicorn (2 sync workers, as docker-compose runs it)
   versus a bare DRF view (bench/_baseline.py: validate a tiny body, insert one row, enqueue one
   no-op task) served by the same gunicorn, in interleaved rounds. Load: Python threads on
   127.0.0.1, each request for a new recipient, bounded in time and count. Then, in this process
   and one thread: SQL statements, commits and Redis round trips per request, and the time of each step.
2. OTP deliveries per second by one Celery prefork worker (2 children, the project's
   celeryconfig) through the console SMS provider writing to a file, versus no-op tasks per second
   drained by the same kind of worker. The queue is filled first; the clock runs from the first
   task taken off the queue until the queue and the unacked set are empty.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

SEND_PATH = "/api/v1/auth/otp/send"
BASELINE_PATH = "/bench/baseline"
QUEUE = "delivery"  # deliver_otp and the no-op task (the default queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one HTTP round per contender")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved HTTP rounds per contender")
    parser.add_argument("--threads", type=int, default=4, help="client threads (concurrent requests)")
    parser.add_argument("--max-requests", type=int, default=20000, help="cap on requests in one round")
    parser.add_argument("--otp-tasks", type=int, default=2000, help="deliver_otp tasks per worker round")
    parser.add_argument("--noop-tasks", type=int, default=4000, help="no-op tasks per worker round")
    parser.add_argument("--worker-rounds", type=int, default=2, help="interleaved worker rounds per contender")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory after a successful run")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="otpsvc-bench-"))
    sms_output = workdir / "console-sms.txt"
    support.configure_environment()
    os.environ["CONSOLE_SMS_OUTPUT"] = str(sms_output)
    database = support.create_and_migrate_database(workdir / "migrate.log")

    import django

    django.setup()
    quiet_logging(workdir / "bench-process.log")

    started = time.monotonic()
    print(f"# send path bench, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {os.cpu_count()} CPUs, {memory_gib():.0f} GiB, Python {platform.python_version()}")
    print(f"database {database}, Redis {os.environ['REDIS_URL']}, broker {os.environ['CELERY_BROKER_URL']}")
    print(f"logs (kept if the run fails or with --keep): {workdir}\n")

    reset()
    steps = in_process_steps()
    reset()
    counts = {
        "send": per_request_counts(SEND_PATH),
        "baseline": per_request_counts(BASELINE_PATH),
        "deliver": per_delivery_counts(sms_output),
    }
    reset()
    web = http_rounds(args, workdir)
    reset()
    worker = worker_rounds(args, workdir, sms_output)
    reset()

    report(args, steps, counts, web, worker)
    print(f"\nwhole run: {time.monotonic() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(workdir)


def quiet_logging(path: Path) -> None:
    """Send this process's log lines (one per send and per delivery) to a file instead of the terminal.

    The first publish loads celeryconfig, which runs django.setup() again and so rebuilds the
    logging handlers: publish once first, then point the root handlers at the file.
    """
    import logging

    from bench._baseline import noop

    noop.delay()
    stream = open(path, "a")  # noqa: SIM115 - open for the rest of the run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def memory_gib() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


# --- State ----------------------------------------------------------------------------------


def reset() -> None:
    """Empty the bench's message and code tables and both of its Redis dbs."""
    import redis
    from django.conf import settings
    from django.db import connection

    from messaging.models import CommunicationLog, DeliveryAttempt
    from otp.models import OneTimeCode

    tables = ", ".join(m._meta.db_table for m in (DeliveryAttempt, OneTimeCode, CommunicationLog))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")  # and what refers to them (receipts)
    for url in (settings.REDIS_URL, settings.CELERY_BROKER_URL):
        redis.Redis.from_url(url).flushdb()


def broker() -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def email_body(tag: str) -> Callable[[int, int], dict[str, Any]]:
    return lambda thread, i: {"email": f"b{tag}-{thread}-{i}@example.com", "purpose": "login"}


def new_email() -> str:
    return f"b{uuid.uuid4().hex[:12]}@example.com"


# --- 1. The send request, in this process -----------------------------------------------------


def in_process_steps() -> dict[str, float]:
    """Median milliseconds of each step of a send, one thread, no concurrency."""
    from django.test import Client
    from django.utils import timezone

    from bench._baseline import noop
    from messaging.models import Channel, CommunicationLog
    from otp import limits
    from otp.api import RecipientSerializer, enqueue_delivery
    from otp.lifecycle import CodeRequest, issue_code
    from otpsite.redis import get_redis

    client = Client()
    repeats = 300

    def request(path: str) -> Callable[[], None]:
        def call() -> None:
            response = client.post(path, {"email": new_email(), "purpose": "login"}, content_type="application/json")
            assert response.status_code == 202, response.content

        return call

    def code_request() -> CodeRequest:
        return CodeRequest(tenant_id="default", recipient=new_email(), channel=Channel.EMAIL, purpose="login")

    def check_send() -> None:
        limits.check_send(channel=Channel.EMAIL, recipient=new_email(), tenant_id="default", client_ip="127.0.0.1")

    def validate() -> None:
        assert RecipientSerializer(data={"email": new_email(), "purpose": "login"}).is_valid()

    ms = {
        "Redis PING": support.median_time(get_redis().ping, repeats) * 1000,
        "serializer (RecipientSerializer.is_valid)": support.median_time(validate, repeats) * 1000,
        "limits.check_send (one Lua script)": support.median_time(check_send, repeats) * 1000,
        "issue_code, one statement (no enqueue)": support.median_time(
            lambda: issue_code(code_request(), now=timezone.now(), enqueue=lambda _id: None), repeats
        )
        * 1000,
        "publish deliver_otp": support.median_time(lambda: enqueue_delivery(str(uuid.uuid4())), repeats) * 1000,
        "publish deliver_otp, task_send_sent_event off": without_sent_event(
            lambda: support.median_time(lambda: enqueue_delivery(str(uuid.uuid4())), repeats) * 1000
        ),
        "baseline: one INSERT": support.median_time(
            lambda: CommunicationLog.objects.create(recipient=new_email(), channel=Channel.EMAIL, purpose="bench"),
            repeats,
        )
        * 1000,
        "baseline: publish no-op task": support.median_time(noop.delay, repeats) * 1000,
        "whole send request (test client)": support.median_time(request(SEND_PATH), repeats) * 1000,
        "whole baseline request (test client)": support.median_time(request(BASELINE_PATH), repeats) * 1000,
    }
    return ms


def without_sent_event(measure: Callable[[], float]) -> float:
    """Run `measure` with celeryconfig's task_send_sent_event switched off in this process only."""
    from otpsite.celery import app

    saved = app.conf.task_send_sent_event
    app.conf.task_send_sent_event = False
    try:
        return measure()
    finally:
        app.conf.task_send_sent_event = saved


def per_request_counts(path: str) -> dict[str, Any]:
    """SQL queries and Redis round trips (by command) of one request, after a warm-up request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    body = {"purpose": "login"}
    client.post(path, {**body, "email": new_email()}, content_type="application/json")
    trips = support.RoundTrips()
    with trips.counting(), CaptureQueriesContext(connection) as queries:
        response = client.post(path, {**body, "email": new_email()}, content_type="application/json")
    assert response.status_code == 202, response.content
    return {
        **sql_counts([q["sql"] for q in queries.captured_queries]),
        "round_trips": trips.total,
        "commands": dict(trips.commands),
    }


def per_delivery_counts(sms_output: Path) -> dict[str, Any]:
    """SQL queries, Redis round trips and median time of one delivery run in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from messaging.models import Channel
    from otp.delivery import deliver_one_time_code
    from otp.lifecycle import CodeRequest, issue_code

    ids: list[str] = []
    for n in range(202):
        request = CodeRequest(tenant_id="default", recipient=f"+1415{n:07d}", channel=Channel.SMS, purpose="login")
        issue_code(request, now=timezone.now(), enqueue=ids.append)
    deliver_one_time_code(ids.pop(), retries=0, lease_seconds=90)  # warm-up: connections, scripts
    trips = support.RoundTrips()
    with trips.counting(), CaptureQueriesContext(connection) as queries:
        step = deliver_one_time_code(ids.pop(), retries=0, lease_seconds=90)
    assert step.reason == "sent", step
    remaining = iter(ids)
    seconds = support.median_time(
        lambda: deliver_one_time_code(next(remaining), retries=0, lease_seconds=90), len(ids) - 20, warmup=20
    )
    sms_output.unlink(missing_ok=True)
    return {
        **sql_counts([q["sql"] for q in queries.captured_queries]),
        "round_trips": trips.total,
        "commands": dict(trips.commands),
        "ms": seconds * 1000,
    }


# --- 1. The send endpoint under gunicorn ------------------------------------------------------


def http_rounds(args: argparse.Namespace, workdir: Path) -> dict[str, list[support.LoadResult]]:
    """Interleaved rounds against one gunicorn: baseline, send, baseline, send, ..."""
    from messaging.models import CommunicationLog

    port = support.free_port()
    contenders = {"baseline": BASELINE_PATH, "send": SEND_PATH}
    results: dict[str, list[support.LoadResult]] = {name: [] for name in contenders}
    accepted = 0
    with support.gunicorn(port, workers=2, output_path=workdir / "gunicorn.log"):
        for name, path in contenders.items():  # warm-up: imports, connections, scripts
            warm = support.http_load(
                port, support.json_posts(path, email_body(f"warm{name}"), per_thread=2000 // args.threads),
                threads=args.threads, seconds=1.0,
            )  # fmt: skip
            accepted += warm.accepted
        for round_no in range(args.rounds):
            for name, path in contenders.items():
                posts = support.json_posts(
                    path, email_body(f"{name}{round_no}"), per_thread=max(1, args.max_requests // args.threads)
                )
                result = support.http_load(port, posts, threads=args.threads, seconds=args.seconds)
                results[name].append(result)
                accepted += result.accepted
                others = {k: v for k, v in result.statuses.items() if k != 202}
                print(
                    f"http round {round_no + 1} {name}: {result.per_second:,.0f} req/s "
                    f"({result.accepted} accepted, other statuses {others or 'none'}, errors {result.errors})"
                )
    rows = CommunicationLog.objects.count()
    if rows != accepted:
        print(f"WARNING: {accepted} requests answered 202 but {rows} log rows exist")
    return results


# --- 2. The worker ----------------------------------------------------------------------------


def fill_otp_queue(count: int) -> None:
    """`count` queued codes (issue_code with a no-op enqueue), then one deliver_otp task each."""
    from django.utils import timezone

    from messaging.models import Channel
    from otp.lifecycle import CodeRequest, issue_code
    from otp.tasks import deliver_otp

    ids: list[str] = []
    tag = uuid.uuid4().int % 10**6
    for n in range(count):
        request = CodeRequest(
            tenant_id="default", recipient=f"+1{tag:06d}{n:04d}", channel=Channel.SMS, purpose="login"
        )
        issue_code(request, now=timezone.now(), enqueue=ids.append)
    for otp_id in ids:
        deliver_otp.delay(otp_id)


def fill_noop_queue(count: int) -> None:
    from bench._baseline import noop

    for _ in range(count):
        noop.delay()


def drain(count: int, workdir: Path, label: str, timeout: float = 90.0) -> float:
    """Start a worker on a full queue; seconds from the first task taken to an empty queue and no unacked."""
    client = broker()
    queued = client.llen(QUEUE)
    if queued != count:
        raise RuntimeError(f"expected {count} tasks in the queue, found {queued}")
    hostname = f"bench-{label}-{uuid.uuid4().hex[:6]}@localhost"
    # prefork with 2 children, as the design's ceilings were measured (bench/latency.py
    # measures the threads pool at provider latency).
    worker = support.start_worker(hostname, workdir / f"{hostname.split('@')[0]}.log", concurrency=2, pool="prefork")
    try:
        deadline = time.monotonic() + timeout
        first = None
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.process.returncode}:\n{worker.output()[-3000:]}")
            left = client.llen(QUEUE)
            now = time.perf_counter()
            if first is None and left < count:
                first = now
            if first is not None and left == 0 and client.hlen("unacked") == 0:
                return now - first
            time.sleep(0.005)
        raise RuntimeError(f"{label}: the worker did not drain {count} tasks within {timeout}s")
    finally:
        worker.stop()


def worker_rounds(args: argparse.Namespace, workdir: Path, sms_output: Path) -> dict[str, list[float]]:
    from messaging.models import CommunicationLog, MessageStatus

    rates: dict[str, list[float]] = {"noop": [], "otp": []}
    for round_no in range(args.worker_rounds):
        reset()
        fill_noop_queue(args.noop_tasks)
        seconds = drain(args.noop_tasks, workdir, "noop")
        rates["noop"].append(args.noop_tasks / seconds)
        print(f"worker round {round_no + 1} no-op: {rates['noop'][-1]:,.0f} tasks/s")

        reset()
        sms_output.unlink(missing_ok=True)
        fill_otp_queue(args.otp_tasks)
        seconds = drain(args.otp_tasks, workdir, "otp")
        rates["otp"].append(args.otp_tasks / seconds)
        sent = CommunicationLog.objects.filter(status=MessageStatus.SENT).count()
        lines = len(sms_output.read_text().splitlines()) if sms_output.exists() else 0
        print(f"worker round {round_no + 1} deliver_otp: {rates['otp'][-1]:,.0f} tasks/s ({sent} sent, {lines} SMS)")
        if sent != args.otp_tasks or lines != args.otp_tasks:
            raise RuntimeError(f"expected {args.otp_tasks} sent logs and SMS lines, found {sent} and {lines}")
    return rates


# --- Report -----------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    steps: dict[str, float],
    counts: dict[str, dict[str, Any]],
    web: dict[str, list[support.LoadResult]],
    worker: dict[str, list[float]],
) -> None:
    web_rates = {name: [r.per_second for r in results] for name, results in web.items()}
    base = statistics.median(web_rates["baseline"])
    print(
        f"\n## Send endpoint: gunicorn, 2 sync workers, {args.threads} client threads, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s (median, range)\n"
    )
    print("| what | requests/s | range | x baseline | SQL statements (commits)/request | Redis round trips/request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, label in (("baseline", "bare DRF view (baseline)"), ("send", "POST /api/v1/auth/otp/send")):
        rate = statistics.median(web_rates[name])
        c = counts[name]
        print(
            f"| {label} | {rate:,.0f} | {support.spread(web_rates[name])} | {rate / base:.2f} | "
            f"{c['statements']} ({c['commits']}) | {c['round_trips']} ({commands(c)}) |"
        )

    ping = steps["Redis PING"]
    print("\n## One request in this process, one thread (median ms, x Redis PING)\n")
    print("| step | ms | x PING |")
    print("| --- | ---: | ---: |")
    for name, ms in steps.items():
        print(f"| {name} | {ms:.3f} | {ms / ping:.1f} |")

    d = counts["deliver"]
    noop_rate = statistics.median(worker["noop"])
    otp_rate = statistics.median(worker["otp"])
    print(
        f"\n## Worker: one prefork worker, 2 children, queue pre-filled "
        f"({args.noop_tasks} no-op / {args.otp_tasks} deliver_otp), {args.worker_rounds} rounds (median, range)\n"
    )
    print("| what | tasks/s | range | x no-op |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| no-op task (baseline) | {noop_rate:,.0f} | {support.spread(worker['noop'])} | 1.00 |")
    print(
        f"| deliver_otp, console SMS to a file | {otp_rate:,.0f} | {support.spread(worker['otp'])} | "
        f"{otp_rate / noop_rate:.2f} |"
    )
    print(
        f"\none delivery in this process: {d['ms']:.2f} ms, {d['statements']} SQL statements ({d['commits']} commits), "
        f"{d['round_trips']} Redis round trips ({commands(d)})"
    )
    for name in ("send", "baseline", "deliver"):
        print(f"SQL of one {name}: " + ", ".join(counts[name]["sql"]))


def sql_counts(statements: list[str]) -> dict[str, Any]:
    """Statements sent (BEGIN and COMMIT not counted) and commits (a write outside BEGIN commits alone)."""
    labels = [sql_label(sql) for sql in statements]
    in_transaction = False
    count = commits = 0
    for label in labels:
        verb = label.split()[0]
        if verb == "BEGIN":
            in_transaction = True
        elif verb in ("COMMIT", "ROLLBACK"):
            in_transaction = False
            commits += verb == "COMMIT"
        else:
            count += 1
            commits += not in_transaction and verb != "SELECT"
    return {"statements": count, "commits": commits, "sql": labels}


def sql_label(sql: str) -> str:
    """`INSERT messaging_communicationlog`, `SELECT otp_onetimecode`, ...: the verb and the first table."""
    verb = sql.split(None, 1)[0].upper()
    if verb == "WITH":  # data-modifying CTEs: name each write, e.g. `WITH (UPDATE otp_codes, INSERT ...)`
        writes = re.findall(r'\b(UPDATE|INSERT INTO)\s+"?(\w+)"?', sql, re.IGNORECASE)
        return f"WITH ({', '.join(f'{w.split()[0].upper()} {table}' for w, table in writes)})"
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    return f"{verb} {match.group(1)}" if match else verb


def commands(count: dict[str, Any]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(count["commands"].items()))


if __name__ == "__main__":
    main()
