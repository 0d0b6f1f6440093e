"""A warehouse connector for tests whose extraction waits at a gate the test opens, then
yields a small catalog or raises what the test asked for: for running two attempts of one
sync side by side in threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from django import forms

from integrations.connectors.base import (
    WAREHOUSE,
    Connector,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
)


@dataclass
class Gate:
    opened: threading.Event = field(default_factory=threading.Event)
    # Set by the extraction as it reaches the gate.
    reached: threading.Event = field(default_factory=threading.Event)
    fail: str = ""
    table: str = "orders"


# Gates by attempt: the n-th extraction of a run waits at GATES[n].
GATES: dict[int, Gate] = {}
_calls = {"count": 0}
_lock = threading.Lock()


def reset() -> None:
    GATES.clear()
    _calls["count"] = 0


class GatedForm(forms.Form):
    name = forms.CharField(required=False)


def _extract(config, *, reporter, state=None):
    with _lock:
        _calls["count"] += 1
        gate = GATES[_calls["count"]]
    reporter.progress(0, 1)
    gate.reached.set()
    assert gate.opened.wait(timeout=60), "the test never opened the gate"
    if gate.fail:
        raise TransientConnectorError(gate.fail)
    yield DatabaseRecord("db")
    yield SchemaRecord("db", "public")
    yield TableRecord("db", "public", gate.table, "table")


CONNECTOR = Connector(
    key="gated",
    label="Gated test warehouse",
    category=WAREHOUSE,
    form=GatedForm,
    extract=_extract,
)
