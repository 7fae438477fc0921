"""List the verification signing keys, or rotate: a new key signs, the old stays published."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from otp.tokens import load_keys, rotate_keys


class Command(BaseCommand):
    help = (
        "List the keys that sign verification tokens; --rotate makes a new one. A retired key stays "
        "published at /.well-known/jwks.json until every token it signed has expired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rotate", action="store_true", help="make a new signing key and retire the current one")

    def handle(self, *args: Any, **options: Any) -> None:
        now = datetime.now(UTC)
        if options["rotate"]:
            try:
                new_key, _ = rotate_keys(now)
            except RuntimeError as err:
                raise CommandError(str(err)) from err
            self.stdout.write(f"new signing key {new_key.kid} in {settings.OTP_SIGNING_KEY_FILE}")
        for key in load_keys():
            state = f"retired {key.retired_at.isoformat()}" if key.retired_at else "signing"
            self.stdout.write(f"{key.kid}  created {key.created_at.isoformat()}  {state}")
