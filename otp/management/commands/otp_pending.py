"""`python manage.py otp_pending [--requeue LOG_ID]`: accepted codes no provider has taken yet."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from otp.recovery import pending_codes, requeue
from otpsite.redaction import mask_recipient

COLUMNS = ("log_id", "channel", "recipient", "purpose", "status", "age_s", "claimed_at", "expires_at")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


class Command(BaseCommand):
    help = "List accepted codes not yet handed to a provider (oldest first); --requeue LOG_ID publishes one again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--requeue", metavar="LOG_ID", type=int, help="publish delivery of this log row again")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        log_id = options.get("requeue")
        if log_id is not None:
            from otp.tasks import deliver_otp

            outcome = requeue(log_id, now=now, publish=lambda otp_id: deliver_otp.delay(otp_id))
            if outcome != "requeued":
                raise CommandError(f"log {log_id}: {outcome}")
            self.stdout.write(self.style.SUCCESS(f"log {log_id}: requeued"))
            return
        rows = [COLUMNS]
        fields = ("pk", "channel", "recipient", "purpose", "status", "created_at", "claimed_at")
        for pk, channel, recipient, purpose, status, created, claimed, expires in pending_codes().values_list(
            *fields, "one_time_code__expires_at"
        ):
            age = f"{(now - created).total_seconds():.0f}"
            masked = mask_recipient(recipient)
            rows.append((str(pk), channel, masked, purpose, status, age, when(claimed), when(expires)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        for line in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        self.stdout.write(f"{len(rows) - 1} pending")
