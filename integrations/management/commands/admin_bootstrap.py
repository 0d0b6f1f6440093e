"""`manage.py admin_bootstrap`: make sure someone can log in to a fresh install."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the superuser 'admin' with a random password when no superuser exists, "
        "and keep the password in var/admin-password.txt (readable by its owner only)."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        path = Path(settings.VAR_DIR) / "admin-password.txt"
        if users.objects.filter(is_superuser=True).exists():
            if path.exists():
                self.stdout.write(f"Log in as admin with the password in {path}")
            else:
                self.stdout.write("Log in with your superuser account.")
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", email="", password=password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        self.stdout.write(f"Created the superuser 'admin'; its password is in {path}: {password}")
