"""Create the development admin user (`admin`) once; DEVSTACK_RUN_DIR/admin-password holds just its password."""

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
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{password}\n")
if password_file.exists():
    password_file.chmod(0o600)  # also a file an earlier version wrote world-readable
    user_and_password = password_file.read_text().split()
    if len(user_and_password) == 2 and user_and_password[0] == "admin":  # an earlier version's "admin <password>"
        password_file.write_text(f"{user_and_password[1]}\n")
