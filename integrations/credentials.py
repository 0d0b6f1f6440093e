"""Re-encrypting stored credentials when the credentials key is rotated."""

from __future__ import annotations

import logging
import pickle
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.db import connection, transaction
from django.utils.encoding import force_bytes
from django_cryptography.utils.crypto import FernetBytes

from .models import Integration

logger = logging.getLogger(__name__)


def _derive(key: str) -> bytes:
    # The same derivation django-cryptography applies to CRYPTOGRAPHY_KEY.
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=32,
        salt=force_bytes(getattr(settings, "CRYPTOGRAPHY_SALT", "django-cryptography")),
        iterations=30000,
    )
    return kdf.derive(force_bytes(key))


def _decrypt(raw: bytes, keys: list[str]) -> tuple[Any, int]:
    """The stored value and the index of the key that opened it."""
    for index, key in enumerate(keys):
        try:
            return pickle.loads(FernetBytes(_derive(key)).decrypt(raw)), index
        except Exception:  # a wrong key fails its signature check
            continue
    raise ValueError("no configured key decrypts it")


@transaction.atomic
def credentials_rotate() -> dict[str, int]:
    """Re-encrypt every integration's config with CREDENTIALS_KEY, reading values that
    are still under one of CREDENTIALS_KEY_PREVIOUS."""
    keys = [settings.CREDENTIALS_KEY, *settings.CREDENTIALS_KEY_PREVIOUS]
    table = Integration._meta.db_table
    with connection.cursor() as cursor:
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cursor.execute(f"SELECT id, config FROM {table} ORDER BY id{lock}")
        rows = cursor.fetchall()
    result = {"current": 0, "rotated": 0, "unreadable": 0}
    for pk, raw in rows:
        try:
            value, index = _decrypt(bytes(raw), keys)
        except ValueError:
            result["unreadable"] += 1
            logger.error("integration %s: credentials readable with no configured key", pk)
            continue
        if index == 0:
            result["current"] += 1
            continue
        Integration.objects.filter(pk=pk).update(config=value)
        result["rotated"] += 1
    return result
