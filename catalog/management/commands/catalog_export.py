"""`manage.py catalog_export [--integration NAME]`: the catalog as JSON on stdout."""

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.selectors import catalog_export_data
from integrations.models import Integration


class Command(BaseCommand):
    help = "Print every database, schema, table and column with its metadata as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--integration", help="Only this integration (name or id).")
        parser.add_argument("--indent", type=int, default=2)

    def handle(self, *args, integration=None, indent=2, **options) -> None:
        target = None
        if integration:
            target = find_integration(integration)
        data = catalog_export_data(integration=target)
        self.stdout.write(json.dumps(data, indent=indent or None, ensure_ascii=False))


def find_integration(ref: str) -> Integration:
    query = Integration.objects.filter(name=ref)
    if ref.isdigit():
        query = query | Integration.objects.filter(pk=int(ref))
    found = query.first()
    if found is None:
        raise CommandError(f"No integration named or numbered '{ref}'.")
    return found
