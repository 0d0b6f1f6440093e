"""`manage.py integration_add <connector> --name NAME --config FILE.json`.

Secrets come from the file (or `-` for stdin), never from the command line, where
they would land in shell history and the process list.
"""

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.connectors import CONNECTOR_MODULES
from integrations.services import integration_create


class Command(BaseCommand):
    help = (
        "Connect an integration, with the same validation, connection test and guards as the form."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("connector", choices=sorted(CONNECTOR_MODULES))
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--config", required=True, help="A JSON file of settings, or - for stdin."
        )

    def handle(self, *args, connector, name, config, **options) -> None:
        try:
            if config == "-":
                data = json.load(sys.stdin)
            else:
                with open(config) as handle:
                    data = json.load(handle)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Could not read the config: {exc}") from None
        if not isinstance(data, dict):
            raise CommandError("The config must be a JSON object of settings.")
        try:
            integration = integration_create(connector_key=connector, name=name, config=data)
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from None
        self.stdout.write(
            f"Created integration {integration.pk} '{integration.name}' ({connector})."
        )


def format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(m for e in errors for m in e.messages)}"
            for field, errors in exc.error_dict.items()
        )
    return " ".join(exc.messages)
