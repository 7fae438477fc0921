"""PostgreSQL transactions per OTP: one send, its delivery and one verify, through real processes.

A private PostgreSQL cluster (initdb, as the chaos tests start one) holds only this bench's
database, so its counters see nothing else: `xact_commit` of the database (every transaction,
read-only ones included) and the cluster's next transaction id (transactions that wrote, which
are the ones that wait for the WAL flush). Two runs, of N1 and N2 codes, each from a cold start
of gunicorn (2 workers) and a Celery worker to their exit; the difference divided by N2 - N1
leaves out what starting and stopping cost. Delivery goes through the console SMS provider to
a file, from which the codes are read back and verified.

    python bench/commits.py [--small 20] [--large 120]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import configure_environment, create_and_migrate_database, free_port, gunicorn, start_worker
from tests.processes import wait_for

DATABASE = "otpsvc_commits"
CODE_LINE = re.compile(r"to (\+\d+): .*?(\d{6})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--large", type=int, default=120)
    args = parser.parse_args()
    configure_environment()
    # Codes are verified only after the whole burst: no pumping guard may see the burst as an attack.
    os.environ.update(
        SMS_PUMPING_COUNTRY_MIN_UNVERIFIED="1000000000",
        SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK="1000000000",
        OTP_VERIFY_LIMIT_PER_IP="1000000000",
    )
    import django

    django.setup()
    from tests.workers.chaos_stack import PrivatePostgres  # the chaos tests' private cluster

    server = PrivatePostgres()
    try:
        server.start()

        os.environ["DATABASE_URL"] = server.url(DATABASE)
        workdir = Path(tempfile.mkdtemp(prefix="otpsvc-commits-"))
        create_and_migrate_database(workdir / "migrate.log")
        runs = {n: measure(server, n, workdir) for n in (args.small, args.large)}
    finally:
        server.destroy()
    (commits_small, writes_small), (commits_large, writes_large) = runs[args.small], runs[args.large]
    codes = args.large - args.small
    print(f"codes: {args.small} and {args.large} (send + delivery + verify each)")
    for n, (commits, writes) in runs.items():
        print(f"  {n:4d} codes: xact_commit {commits}, transactions that wrote {writes}")
    print(f"per OTP: {(commits_large - commits_small) / codes:.2f} commits (all transactions), "
          f"{(writes_large - writes_small) / codes:.2f} transactions that wrote")  # fmt: skip


def counters(server) -> tuple[int, int]:
    """(xact_commit of the bench database, the cluster's next transaction id)."""
    commits = server.execute(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DATABASE}'")[0][0]
    next_xid = server.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")[0][0]
    return int(commits), int(next_xid)


def settled(server) -> tuple[int, int]:
    """Counters once every exited backend's statistics have reached the collector (two equal reads)."""
    last = counters(server)
    while True:
        time.sleep(1.0)
        now = counters(server)
        if now[0] - last[0] <= 1:  # this function's own read is one commit
            return now
        last = now


def measure(server, count: int, workdir: Path) -> tuple[int, int]:
    import redis

    for url in (os.environ["REDIS_URL"], os.environ["CELERY_BROKER_URL"]):
        redis.Redis.from_url(url).flushdb()
    outbox = workdir / f"sms-{count}.txt"
    before = settled(server)
    port = free_port()
    worker = start_worker(
        f"commits-{count}@localhost", workdir / f"worker-{count}.log", 8, CONSOLE_SMS_OUTPUT=str(outbox)
    )
    try:
        with gunicorn(port, 2, workdir / f"web-{count}.log"):
            phones = [f"+1415{4000000 + count * 1000 + n:07d}" for n in range(count)]  # new ones each run
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda p: post(port, "send", {"phone": p, "purpose": "login"}), phones))
            assert statuses == [202] * count, statuses
            codes = wait_for_codes(outbox, count, worker)
            with ThreadPoolExecutor(4) as pool:
                verified = list(
                    pool.map(lambda p: post(port, "verify", {"phone": p, "purpose": "login", "code": codes[p]}), phones)
                )
            assert verified == [200] * count, verified
    finally:
        worker.stop()
    after = settled(server)
    return after[0] - before[0], after[1] - before[1]


def wait_for_codes(outbox: Path, count: int, worker) -> dict[str, str]:
    def delivered() -> dict[str, str] | None:
        text = outbox.read_text() if outbox.exists() else ""
        codes = {m.group(1): m.group(2) for m in CODE_LINE.finditer(text)}
        return codes if len(codes) >= count else None

    return wait_for(delivered, timeout=300, what=f"{count} codes in {outbox}", every=0.1, alive=worker)


def post(port: int, action: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/otp/{action}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


if __name__ == "__main__":
    main()
