"""Scheduled syncs, run by Celery beat through django-celery-beat's database scheduler."""

from __future__ import annotations

import json
import logging

from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ..models import Integration

logger = logging.getLogger(__name__)

TASK = "integrations.tasks.sync_scheduled_task"


def _task_name(integration: Integration) -> str:
    return f"integration-{integration.pk}-sync"


def parse_cron(expression: str) -> list[str]:
    """The five fields of a cron expression, or a ValidationError saying what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            "A cron expression has five fields: minute hour day-of-month month day-of-week "
            "(e.g. '30 6 * * 1-5')."
        )
    minute, hour, day, month, weekday = fields
    try:
        crontab(
            minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday
        )
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"That cron expression is not valid: {exc}") from None
    return fields


def schedule_task(integration: Integration) -> PeriodicTask | None:
    return (
        PeriodicTask.objects.filter(name=_task_name(integration)).select_related("crontab").first()
    )


@transaction.atomic
def integration_schedule_set(*, integration: Integration, cron: str) -> Integration:
    """Set (or with an empty expression, clear) the integration's sync schedule."""
    cron = " ".join(cron.split())
    name = _task_name(integration)
    if not cron:
        PeriodicTask.objects.filter(name=name).delete()
    else:
        minute, hour, day, month, weekday = parse_cron(cron)
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day,
            month_of_year=month,
            day_of_week=weekday,
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": TASK,
                "crontab": schedule,
                "interval": None,
                "args": json.dumps([integration.pk]),
                "enabled": True,
                "description": f"Scheduled sync of integration {integration.pk}",
            },
        )
    integration.schedule = cron
    integration.save(update_fields=["schedule", "updated_at"])
    logger.info("integration %s schedule set to %r", integration.pk, cron)
    return integration


def integration_schedule_clear(*, integration: Integration) -> None:
    PeriodicTask.objects.filter(name=_task_name(integration)).delete()
