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

# A connector's settings fit in a few kilobytes (a key-pair or a service-account key is the
# largest); anything far bigger is a wrong file, and is refused before it is parsed.
MAX_CONFIG_BYTES = 1_000_000
# Settings are flat (strings, numbers, lists of patterns): deeper nesting is not a config, and
# past Python's recursion limit it would break the parser or the encrypted field's encoder.
MAX_CONFIG_DEPTH = 20


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
        data = parse_config(read_config(config))
        if not isinstance(data, dict):
            raise CommandError("The config must be a JSON object of settings.")
        try:
            integration = integration_create(connector_key=connector, name=name, config=data)
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from None
        self.stdout.write(
            f"Created integration {integration.pk} '{integration.name}' ({connector})."
        )


def read_config(source: str) -> str:
    try:
        if source == "-":
            text = sys.stdin.read(MAX_CONFIG_BYTES + 1)
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read(MAX_CONFIG_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Could not read the config: {exc}") from None
    if len(text) > MAX_CONFIG_BYTES:
        raise CommandError(
            f"The config is larger than {MAX_CONFIG_BYTES:,} characters: is it the right file?"
        )
    return text


def parse_config(text: str):
    try:
        data = json.loads(text)
    except RecursionError:
        # The decoder recurses once per nested array or object.
        raise CommandError("The config is not valid JSON: nested too deeply.") from None
    except ValueError as exc:  # JSONDecodeError, or a number too long to convert
        raise CommandError(f"Could not read the config: {exc}") from None
    if json_depth(data) > MAX_CONFIG_DEPTH:
        raise CommandError(
            f"The config is nested too deeply (over {MAX_CONFIG_DEPTH} levels): settings are flat."
        )
    return data


def json_depth(value) -> int:
    """How deeply arrays and objects nest, counted without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(m for e in errors for m in e.messages)}"
            for field, errors in exc.error_dict.items()
        )
    return " ".join(exc.messages)
