"""`python manage.py rotate_credentials`: re-encrypt every tenant credential under the first key.

Rotation: put the new key first in CREDENTIALS_ENCRYPTION_KEYS (the old one after it), restart,
run this, then drop the old key. Each row is re-encrypted under its own row lock; its values and
version do not change (no SDK client is rebuilt). A row no configured key opens is named (tenant,
provider, id; never a value) and the command exits non-zero after doing the rest.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from messaging.tenancy.models import ProviderCredential
from otpsite import secretbox


class Command(BaseCommand):
    help = "Re-encrypt every tenant provider credential under the first CREDENTIALS_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        for pk in ProviderCredential.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                row = ProviderCredential.objects.select_for_update().filter(pk=pk).first()
                if row is None:
                    continue
                try:
                    row.sealed = secretbox.rotate(row.sealed)
                except secretbox.InvalidToken:
                    unreadable.append(f"{row.tenant}/{row.provider} (id {row.pk})")
                    continue
                row.save(update_fields=["sealed"])
                rotated += 1
        self.stdout.write(f"re-encrypted {rotated} credential(s) under the first key")
        if unreadable:
            raise CommandError(f"no configured key opens: {', '.join(unreadable)}")
