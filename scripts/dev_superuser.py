"""Create the development admin user once and keep its password in DEVSTACK_RUN_DIR/admin-password."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpsite.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

password_file = Path(os.environ["DEVSTACK_RUN_DIR"]) / "admin-password"
User = get_user_model()
if not User.objects.filter(username="admin").exists():
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", "admin@example.com", password)
    password_file.write_text(f"admin {password}\n")
