"""Cost of the receipts path: signed webhooks under gunicorn against the bare DRF baseline.

Usage (from the repository root; PostgreSQL and Redis on 127.0.0.1):

    .venv/bin/python bench/receipts.py

It uses its own database (postgres://postgres@127.0.0.1:5432/otpsvc_bench_receipts, created,
migrated and emptied here) and Redis dbs 12 (state) and 13 (broker), flushed; move them with
BENCH_DATABASE_URL, BENCH_REDIS_URL and BENCH_BROKER_URL.

Contenders, served by one gunicorn (2 sync workers) in interleaved rounds, each request from
Python client threads on 127.0.0.1:

- baseline: bench/_baseline.py's bare DRF view (validate, insert one row, enqueue one no-op task);
- twilio: POST /webhooks/twilio, a `delivered` status callback signed with the auth token, each
  for a different sent message (signature check, one locked SELECT, one INSERT, one UPDATE);
- sendgrid: POST /webhooks/sendgrid, one `delivered` event per request, ECDSA-signed;
- duplicate: the same Twilio callback over and over (signature check, lookup, refused INSERT).

Signatures are computed before the clock starts, so the client's cost is not counted.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

AUTH_TOKEN = "bench-auth-token"
Request = support.Request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one round per contender")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per contender")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--messages", type=int, default=12000, help="sent messages prepared per webhook contender")
    args = parser.parse_args()

    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/otpsvc_bench_receipts")
    os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
    support.configure_environment()
    port = support.free_port()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sendgrid_key = ec.generate_private_key(ec.SECP256R1())
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    os.environ.update(
        {
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "MESSAGING_WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
            "SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(public).decode(),
        }
    )
    workdir = Path(tempfile.mkdtemp(prefix="otpsvc-bench-receipts-"))
    database = support.create_and_migrate_database(workdir / "migrate.log")

    import django

    django.setup()
    print(f"# receipts bench, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, database {database}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    reset()
    requests = {
        "baseline": baseline_requests(args.messages),
        "twilio": twilio_requests(port, prepare_logs("twilio", args.messages)),
        "sendgrid": sendgrid_requests(sendgrid_key, prepare_logs("sendgrid", args.messages)),
        "duplicate": twilio_requests(port, prepare_logs("twilio", 1)) * args.messages,
    }
    sql_per_request(port, requests["duplicate"][0])  # the first is recorded; the one measured is a duplicate
    statements = {name: sql_per_request(port, batch[0]) for name, batch in requests.items()}
    rates: dict[str, list[float]] = {name: [] for name in requests}
    with support.gunicorn(port, workers=2, output_path=workdir / "gunicorn.log"):
        for batch in requests.values():  # warm-up, then the warm-up's receipts are kept
            load(port, batch[-200:], threads=args.threads, seconds=1.0)
        for round_no in range(args.rounds):
            for name, batch in requests.items():
                start = (round_no * len(batch)) // args.rounds
                result = load(port, batch[start:], threads=args.threads, seconds=args.seconds)
                rates[name].append(result.per_second)
                print(f"round {round_no + 1} {name}: {result.per_second:,.0f} req/s, "
                      f"statuses {dict(result.statuses)}, errors {result.errors}")  # fmt: skip
    report(args, rates, statements)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; logs in {workdir}")


def reset() -> None:
    from django.db import connection

    from otpsite.redis import get_redis

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_deliveryreceipt, messaging_deliveryattempt, otp_codes, "
                       "communication_logs CASCADE")  # fmt: skip
    get_redis().flushdb()


def prepare_logs(provider: str, count: int) -> list[str]:
    from django.db import connection
    from django.utils import timezone

    from messaging.models import CommunicationLog, MessageStatus

    now = timezone.now()
    ids = [f"{provider}-{time.monotonic_ns()}-{i}" for i in range(count)]
    CommunicationLog.objects.bulk_create(
        [
            CommunicationLog(
                recipient="+14155550123",
                channel="sms",
                status=MessageStatus.SENT,
                provider_used=provider,
                provider_message_id=sid,
                sent_at=now,
            )
            for sid in ids
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:  # fresh statistics, as a long-running table would have
        cursor.execute("ANALYZE communication_logs")
    return ids


def baseline_requests(count: int) -> list[Request]:
    body = json.dumps({"email": "bench@example.com"}).encode()
    return [("/bench/baseline", {"Content-Type": "application/json"}, body)] * count


def twilio_requests(port: int, sids: list[str]) -> list[Request]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    url = f"http://127.0.0.1:{port}/webhooks/twilio"
    out: list[Request] = []
    for sid in sids:
        form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC0", "To": "+14155550123"}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": validator.compute_signature(url, form)}  # fmt: skip
        out.append(("/webhooks/twilio", headers, urllib.parse.urlencode(form).encode()))
    return out


def sendgrid_requests(key: object, ids: list[str]) -> list[Request]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    out: list[Request] = []
    for i, sg_id in enumerate(ids):
        body = json.dumps([{"event": "delivered", "sg_event_id": f"e{i}-{sg_id}", "sg_message_id": f"{sg_id}.f",
                            "timestamp": int(time.time())}]).encode()  # fmt: skip
        stamp = str(int(time.time()) + 120)  # signed for the moment the round runs, within the window
        signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
        headers = {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                   "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode()}  # fmt: skip
        out.append(("/webhooks/sendgrid", headers, body))
    return out


def load(port: int, batch: list[Request], *, threads: int, seconds: float) -> support.LoadResult:
    """Send `batch`, split between the threads, until it runs out or `seconds` pass."""
    return support.http_load(port, lambda thread: batch[thread::threads], threads=threads, seconds=seconds)


def sql_per_request(port: int, request: Request) -> str:
    """SQL statements one request makes, in this process through Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    path, headers, body = request
    client = Client(SERVER_NAME="127.0.0.1", SERVER_PORT=str(port))
    extra = {k: v for k, v in headers.items() if k != "Content-Type"}
    with CaptureQueriesContext(connection) as queries:
        client.post(path, body, content_type=headers["Content-Type"], headers=extra)
    words = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    return f"{len(words)} ({', '.join(words)})"


def report(args: argparse.Namespace, rates: dict[str, list[float]], statements: dict[str, str]) -> None:
    base = statistics.median(rates["baseline"])
    print(f"\n## Webhooks: gunicorn, 2 sync workers, {args.threads} client threads, "
          f"{args.rounds} interleaved rounds of {args.seconds:g} s (median)\n")  # fmt: skip
    print("| what | requests/s | range | x baseline | SQL statements/request |")
    print("| --- | ---: | ---: | ---: | --- |")
    labels = {
        "baseline": "bare DRF view (baseline)",
        "twilio": "POST /webhooks/twilio, delivered",
        "sendgrid": "POST /webhooks/sendgrid, 1 delivered event",
        "duplicate": "POST /webhooks/twilio, duplicate",
    }
    for name, label in labels.items():
        median = statistics.median(rates[name])
        row = f"| {label} | {median:,.0f} | {support.spread(rates[name])} | {median / base:.2f} | {statements[name]} |"
        print(row)


if __name__ == "__main__":
    main()
