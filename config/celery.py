"""The Celery application every worker and the web process share."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# redis:// URLs use kombu's Redis transport with the fix in config/broker.py.
TRANSPORT_ALIASES["redis"] = "config.broker:Transport"

app = Celery("catalog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
