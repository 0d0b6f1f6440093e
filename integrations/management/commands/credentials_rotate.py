"""`manage.py credentials_rotate`: re-encrypt stored credentials under the current key."""

from django.core.management.base import BaseCommand, CommandError

from integrations.credentials import credentials_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every integration's credentials with CREDENTIALS_KEY, reading the ones "
        "still encrypted with a key listed in CREDENTIALS_KEY_PREVIOUS."
    )

    def handle(self, *args, **options) -> None:
        result = credentials_rotate()
        self.stdout.write(
            f"{result['rotated']} re-encrypted, {result['current']} already on the current key, "
            f"{result['unreadable']} unreadable."
        )
        if result["unreadable"]:
            raise CommandError(
                "Some credentials open with no configured key: add the key they were written "
                "with to CREDENTIALS_KEY_PREVIOUS and run this again."
            )
