"""`manage.py sync_recover`: hand back the syncs whose worker is gone, now.

Beat does this every minute (integrations.tasks.sync_reap_stale_task); bin/run calls it when
it stops, so that a sync its worker held is queued again at once instead of showing
"running" until the next worker's beat looks."""

from django.core.management.base import BaseCommand

from integrations.services.sync_recovery import sync_reap_stale


class Command(BaseCommand):
    help = "Queue again the syncs whose worker died or whose message was lost."

    def handle(self, *args, **options) -> None:
        recovered = sync_reap_stale()
        if recovered:
            runs = ", ".join(f"#{pk}" for pk in recovered)
            self.stdout.write(f"Handed back sync runs {runs}: they are retried.")
