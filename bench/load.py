"""Load test of the send path at a provider's latency: a fixed rate of sends, healthy and degraded.

Usage (from the repository root; PostgreSQL and Redis on 127.0.0.1, e.g. after `make services`):

    .venv/bin/python bench/load.py                           # 200 sends/s for 60 s at 200 ms, twice
    .venv/bin/python bench/load.py --delays 0.1,0.2,0.5      # the same at each latency (make bench-latency)
    .venv/bin/python bench/load.py --rate 50 --seconds 10 --delays 0

The same database and Redis dbs as bench/send_path.py (emptied here; move them with
BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_BROKER_URL). The stack runs as docker-compose runs it:
gunicorn with WEB_CONCURRENCY sync workers (4 unless set, as deploy/gunicorn.conf.py), one Celery
worker with the app's own pool and size (threads, CELERY_WORKER_CONCURRENCY). SMS goes to Twilio
(the real SDK against a stand-in in this process), then SNS (boto3 against moto, through a proxy);
both answer `--delays` seconds late, over kept-alive connections (tests/standins/latency.py).

Two runs per latency: every provider healthy, then Twilio answering 503 to every other call (after
the same delay; the breaker decides what happens next; the code goes to SNS). A separate process
sends `--rate` POST /api/v1/auth/otp/send a second for `--seconds`, each for a new number, on a
fixed schedule (open loop: a late answer does not delay the next request; latency is measured from
the request's scheduled time, so queueing in the client counts). Reported: p50/p99 API latency,
p50/p99 time from accept (the log row's created_at) to provider acceptance (its sent_at), errors
(non-202 answers, failed connections, messages not sent within the drain timeout) and the
worker's resident memory after warm-up (10 s into the run) and at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

SEND_PATH = "/api/v1/auth/otp/send"
TWILIO_SID = "AC" + "0123456789abcdef" * 2


WARM_UP_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="sends per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--delays", default="0.2", help="provider latencies in seconds, comma-separated")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for every message to be sent")
    parser.add_argument("--generate", nargs=2, metavar=("PORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(int(args.generate[0]), args.rate, args.seconds, Path(args.generate[1]))
        return

    workdir = Path(tempfile.mkdtemp(prefix="otpsvc-load-"))
    support.configure_environment()
    twilio, moto, proxy = half_failing_twilio().start(), *sns_behind_a_proxy()
    os.environ.update(
        MESSAGING_SMS_PROVIDERS="twilio,sns",
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN="load-test-token",
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL=twilio.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=proxy.url,
    )
    database = support.create_and_migrate_database(workdir / "migrate.log")
    import django

    django.setup()
    print(f"# send load test, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, database {database}")
    print(f"{args.rate:.0f} sends/s for {args.seconds:.0f} s per run; logs in {workdir}\n")
    rows = []
    for delay in (float(d) for d in args.delays.split(",")):
        twilio.delay = proxy.delay = delay
        for name, failing in (("every provider healthy", False), ("Twilio fails every other call", True)):
            support.empty_bench_data()
            twilio.failing = failing
            twilio.calls = Counter()
            tag = f"{'failing' if failing else 'healthy'}-{delay * 1000:.0f}ms"
            rows.append((f"{delay * 1000:.0f} ms, {name}", run(args, workdir, tag), dict(twilio.calls)))
    report(rows)
    twilio.stop()
    proxy.stop()
    moto.stop()


def half_failing_twilio() -> Any:
    from tests.standins.http_standin import Answer, ReceivedRequest
    from tests.standins.latency import SlowTwilio

    class HalfFailingTwilio(SlowTwilio):
        """Twilio's stand-in, late; when `failing`, every other call answers 503. Keeps no request list."""

        failing = False
        calls: Counter[str]

        def answer_ok(self, request: ReceivedRequest) -> Answer:
            with self._lock:
                n = sum(self.calls.values())
                fail = self.failing and n % 2 == 1
                self.calls["503" if fail else "201"] += 1
            if fail:
                return Answer(503, {"code": 20503, "message": "Service unavailable", "status": 503})
            return super().answer_ok(request)

    standin = HalfFailingTwilio(record=False)
    standin.calls = Counter()
    return standin


def sns_behind_a_proxy() -> tuple[Any, Any]:
    """moto's server, and the proxy in front of it that answers late."""
    from tests.standins.aws import start_moto_server
    from tests.standins.latency import DelayingProxy

    moto, url = start_moto_server()
    return moto, DelayingProxy(url).start()


def run(args: argparse.Namespace, workdir: Path, tag: str) -> dict[str, Any]:
    from messaging.models import CommunicationLog, MessageStatus

    port = support.free_port()
    out = workdir / f"client-{tag}.json"
    workers = int(os.environ.get("WEB_CONCURRENCY") or 4)  # deploy/gunicorn.conf.py's default
    with support.gunicorn(port, workers=workers, output_path=workdir / f"gunicorn-{tag}.log"):
        worker = support.start_worker(f"load-{tag}", workdir / f"worker-{tag}.log", concurrency=None)
        try:
            time.sleep(2.0)  # let the worker finish importing
            rate, seconds = str(args.rate), str(args.seconds)
            argv = [sys.executable, __file__, "--rate", rate, "--seconds", seconds, "--generate", str(port), str(out)]
            client = subprocess.Popen(argv, cwd=ROOT)
            time.sleep(WARM_UP_SECONDS)
            memory_warm = worker_rss_mib(worker.process.pid)
            if client.wait() != 0:
                raise RuntimeError("the load generator failed")
            result = json.loads(out.read_text())
            deadline = time.monotonic() + args.drain
            pending = CommunicationLog.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
            while pending.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            drained = time.monotonic()
            memory_end = worker_rss_mib(worker.process.pid)
        finally:
            worker.stop()
    sent = CommunicationLog.objects.filter(status=MessageStatus.SENT)
    times = sent.values_list("created_at", "sent_at")
    waits = sorted((sent_at - created_at).total_seconds() for created_at, sent_at in times if sent_at)
    by_status = Counter(CommunicationLog.objects.values_list("status", flat=True))
    providers = Counter(sent.values_list("provider_used", flat=True))
    return {
        **result,
        "accept_to_provider": waits,
        "statuses": dict(by_status),
        "providers": dict(providers),
        "memory": (memory_warm, memory_end),
        "drain_seconds": drained - result["ended"],
    }


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent's pid, after the state
            found.append(int(stat.parent.name))
    return found


def worker_rss_mib(pid: int) -> tuple[float, list[float]]:
    """Resident memory (MiB) of the worker's main process and of each child."""

    def rss(p: int) -> float:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    return rss(pid), [rss(child) for child in children(pid)]


# --- The client process ------------------------------------------------------------------------


def generate(port: int, rate: float, seconds: float, out: Path) -> None:
    """Send `rate` requests a second for `seconds`, each at its scheduled time, from a thread pool."""
    total = int(rate * seconds)
    latencies: list[float] = [0.0] * total
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    next_index = [0]
    began = time.monotonic() + 0.5

    def worker() -> None:
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= total:
                return
            scheduled = began + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            number = f"+1415{2000000 + i:07d}"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", SEND_PATH, json.dumps({"phone": number}), {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                conn.close()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as err:
                status = type(err).__name__
            latencies[i] = time.monotonic() - scheduled
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
    out.write_text(
        json.dumps(
            {
                "latencies": sorted(latencies),
                "client_statuses": dict(statuses),
                "sent_for": ended - began,
                "ended": ended,
                "requests": total,
            }
        )
    )


# --- Report ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def report(rows: list[tuple[str, dict[str, Any], dict[str, int]]]) -> None:
    print(
        "| run | requests | API p50 / p99 ms | accept to provider p50 / p99 ms | errors | worker RSS MiB warm -> end |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, r, _ in rows:
        lat, waits = r["latencies"], r["accept_to_provider"]
        not_accepted = sum(n for s, n in r["client_statuses"].items() if s != "202")
        unsent = r["requests"] - len(waits)
        (main_warm, kids_warm), (main_end, kids_end) = r["memory"]
        print(
            f"| {name} | {r['requests']} in {r['sent_for']:.1f} s | {percentile(lat, 0.5) * 1000:.1f} / "
            f"{percentile(lat, 0.99) * 1000:.1f} | {percentile(waits, 0.5) * 1000:.0f} / "
            f"{percentile(waits, 0.99) * 1000:.0f} | {not_accepted + unsent} | "
            f"{main_warm + sum(kids_warm):.0f} -> {main_end + sum(kids_end):.0f} |"
        )
    print()
    for name, r, calls in rows:
        print(
            f"{name}: answers {r['client_statuses']}, messages {r['statuses']}, sent by {r['providers']}, "
            f"Twilio stand-in answered {calls}, queue drained {r['drain_seconds']:.1f} s after the last request, "
            f"mean accept to provider {statistics.fmean(r['accept_to_provider'] or [0]) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
