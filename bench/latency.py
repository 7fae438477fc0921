"""Deliveries per second at a real provider's latency: ours against a bare provider call, same pool.

Usage (from the repository root; PostgreSQL and Redis on 127.0.0.1, e.g. after `make services`):

    .venv/bin/python bench/latency.py                          # 200 ms, every provider (about 3 min)
    .venv/bin/python bench/latency.py --delay 0.1 --count 1000 --providers twilio

Every provider's stand-in answers `--delay` seconds late over kept-alive HTTP/1.1: Twilio and
SendGrid (tests/standins/latency.py), SES and SNS through a delaying proxy in front of moto. For each
provider, two rounds on the same stand-in, each on a fresh worker as docker-compose starts it (the
app's own pool and size: threads, CELERY_WORKER_CONCURRENCY) with a full queue of `--count` tasks:

- baseline: `bench.provider_call`, the provider's HTTP call through the same client and connection
  pool and nothing else (no database, no breaker, no code; bench/_baseline.py);
- ours: `deliver_otp` for `--count` accepted codes (claim, code, breaker, the call, the records).

Deliveries per second = tasks / seconds from the first task taken to an empty queue with nothing
unacknowledged. Targets ("100+ codes a second per worker node"): ours >= 0.8x the baseline
and >= 100/s at 200 ms on a 2-core machine. The peak of calls in flight at the stand-in is shown too.
The same database and Redis dbs as bench/send_path.py (emptied here).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

QUEUE = "delivery"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
SENDER = "no-reply@example.com"
CHANNEL_OF = {"twilio": "sms", "sns": "sms", "sendgrid": "email", "ses": "email"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each stand-in waits before answering")
    parser.add_argument("--count", type=int, default=2000, help="tasks per round")
    parser.add_argument("--providers", default="twilio,sendgrid,ses,sns", help="comma-separated")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="otpsvc-latency-"))
    support.configure_environment()
    standins = StandIns(args.delay)
    os.environ.update(standins.environment())
    database = support.create_and_migrate_database(workdir / "migrate.log")
    import django

    django.setup()
    standins.verify_sender()
    concurrency = os.environ.get("CELERY_WORKER_CONCURRENCY", "the default")
    print(f"# latency bench, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, database {database}")
    print(f"stand-ins {args.delay * 1000:.0f} ms late, {args.count} tasks a round, concurrency {concurrency}")
    print(f"logs in {workdir}\n")
    rows = []
    for provider in args.providers.split(","):
        rows.append((provider, *measure(provider, args.count, standins, workdir)))
    report(rows, args.delay)
    standins.stop()


class StandIns:
    """Every provider's stand-in, `delay` seconds late, running in this process."""

    def __init__(self, delay: float) -> None:
        from tests.standins.aws import start_moto_server
        from tests.standins.latency import DelayingProxy, SlowSendGrid, SlowTwilio

        self.twilio = SlowTwilio(delay, record=False).start()
        self.sendgrid = SlowSendGrid(delay, record=False).start()
        self.moto, moto_url = start_moto_server()
        self.aws = DelayingProxy(moto_url, delay).start()
        self.moto_url = moto_url

    def environment(self) -> dict[str, str]:
        return {
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": "latency-bench-token",
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": self.twilio.url,
            "SENDGRID_API_KEY": "SG.latency-bench",
            "SENDGRID_API_HOST": self.sendgrid.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.aws.url,
            "OTP_FROM_EMAIL": SENDER,
            # The bench settings run with DEBUG off, which refuses the console provider of BENCH_ENV.
            "MESSAGING_SMS_PROVIDERS": "twilio",
        }

    def verify_sender(self) -> None:
        from tests.standins.aws import AwsStandIn

        AwsStandIn(url=self.moto_url).verify_sender(SENDER)

    def in_flight(self, provider: str) -> Any:
        return {"twilio": self.twilio, "sendgrid": self.sendgrid}.get(provider, self.aws).in_flight

    def stop(self) -> None:
        self.twilio.stop()
        self.sendgrid.stop()
        self.aws.stop()
        self.moto.stop()


def measure(provider: str, count: int, standins: StandIns, workdir: Path) -> tuple[float, float, int, int]:
    """(baseline per second, ours per second, peak in flight baseline, ours)."""
    from bench._baseline import provider_call

    support.empty_bench_data()
    for n in range(count):
        provider_call.delay(provider, recipient(provider, n))
    baseline, baseline_peak = drain(count, standins, provider, workdir, f"baseline-{provider}")
    support.empty_bench_data()
    fill_with_codes(provider, count)
    ours, ours_peak = drain(count, standins, provider, workdir, f"ours-{provider}")
    check_every_code_sent(count)
    return count / baseline, count / ours, baseline_peak, ours_peak


def recipient(provider: str, n: int) -> str:
    return f"+1415{3000000 + n:07d}" if CHANNEL_OF[provider] == "sms" else f"user{n}@example.org"


def fill_with_codes(provider: str, count: int) -> None:
    """`count` accepted codes for `provider`'s channel, their deliveries in the queue (as send leaves them)."""
    from django.utils import timezone

    from messaging.models import Channel
    from otp.lifecycle import CodeRequest, issue_code
    from otp.tasks import deliver_otp

    channel = Channel.SMS if CHANNEL_OF[provider] == "sms" else Channel.EMAIL
    ids: list[str] = []
    for n in range(count):
        request = CodeRequest(tenant_id="default", recipient=recipient(provider, n), channel=channel, purpose="login")
        issue_code(request, now=timezone.now(), enqueue=ids.append)
    for otp_id in ids:
        deliver_otp.delay(otp_id)


def drain(count: int, standins: StandIns, provider: str, workdir: Path, label: str) -> tuple[float, int]:
    """Start a worker whose chain is `provider` alone on a full queue; seconds to drain it, peak in flight."""
    client = broker()
    if client.llen(QUEUE) != count:
        raise RuntimeError(f"expected {count} tasks in the queue, found {client.llen(QUEUE)}")
    gauge = standins.in_flight(provider)
    gauge.peak = 0
    hostname = f"latency-{label}-{uuid.uuid4().hex[:6]}@localhost"
    chain = {"MESSAGING_SMS_PROVIDERS": provider} if CHANNEL_OF[provider] == "sms" else {}
    chain = chain or {"MESSAGING_EMAIL_PROVIDERS": provider}
    worker = support.start_worker(hostname, workdir / f"{label}.log", concurrency=None, **chain)
    try:
        deadline, first, cpu_at_first = time.monotonic() + 600, None, 0.0
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.process.returncode}:\n{worker.output()[-3000:]}")
            left, now = client.llen(QUEUE), time.perf_counter()
            if first is None and left < count:
                first, cpu_at_first = now, cpu_seconds(worker.process.pid)
            if first is not None and left == 0 and client.hlen("unacked") == 0:
                CPU[label] = cpu_seconds(worker.process.pid)
                CPU_PER_TASK_MS[label] = (CPU[label] - cpu_at_first) / count * 1000
                return now - first, gauge.peak
            time.sleep(0.005)
        raise RuntimeError(f"{label}: the worker did not drain {count} tasks in time")
    finally:
        worker.stop()


#: Worker CPU seconds (user + system, including start-up) per round, by label.
CPU: dict[str, float] = {}
#: Worker CPU milliseconds per task, from the first task taken to the drained queue (no start-up).
CPU_PER_TASK_MS: dict[str, float] = {}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_every_code_sent(count: int) -> None:
    from messaging.models import CommunicationLog, MessageStatus

    sent = CommunicationLog.objects.filter(status=MessageStatus.SENT).count()
    if sent != count:
        raise RuntimeError(f"{sent} of {count} codes sent; see the worker log")


def broker() -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def report(rows: list[tuple[str, float, float, int, int]], delay: float) -> None:
    print(f"| provider ({delay * 1000:.0f} ms) | baseline deliveries/s | ours deliveries/s | ours / baseline | "
          "peak in flight (baseline / ours) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: |")
    for provider, baseline, ours, baseline_peak, ours_peak in rows:
        print(f"| {provider} | {baseline:.0f} | {ours:.0f} | {ours / baseline:.2f} | {baseline_peak} / {ours_peak} |")
    print()
    print("Worker CPU seconds per round (start-up included): " + ", ".join(f"{k} {v:.1f}" for k, v in CPU.items()))
    per_task = ", ".join(f"{k} {v:.2f}" for k, v in CPU_PER_TASK_MS.items())
    print(f"Worker CPU ms per task (start-up excluded): {per_task}")


if __name__ == "__main__":
    main()
