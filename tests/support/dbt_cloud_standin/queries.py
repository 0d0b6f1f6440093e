"""List endpoints: filters, `state`, `order_by` and `limit`/`offset`, echoed in `extra`
as dbt Cloud does (reference §4.2, §5, §8.2–§8.5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .state import value_of

MAX_LIMIT = 100


class BadRequest(Exception):
    """Answered with 400 in the envelope (reference §11.4; the messages are ours)."""


def parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"'{raw}' is not a valid integer.") from None


def parse_bool(raw: str) -> bool:
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"'{raw}' is not a valid boolean.")


def parse_json_list(item: type) -> Callable[[str], list[Any]]:
    """`…__in` filters take a JSON array in one parameter: `status__in=[10,20]` (§5.1)."""

    def parse(raw: str) -> list[Any]:
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise BadRequest(f"'{raw}' is not a JSON list of {item.__name__} values.")
        return value

    return parse


def parse_range(raw: str) -> list[str]:
    """A JSON pair of "YYYY-MM-DD HH:MM:SS" strings; open-ended ranges are refused (§5.1)."""
    try:
        value = json.loads(raw)
        ends = [datetime.fromisoformat(end) for end in value]
    except (ValueError, TypeError):
        raise BadRequest(f"'{raw}' is not a JSON pair of datetimes.") from None
    if len(ends) != 2:
        raise BadRequest(f"'{raw}' is not a JSON pair of datetimes.")
    return value


def as_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class Filter:
    field: str
    parse: Callable[[str], Any]
    test: Callable[[Any, Any], bool]


def exact(field: str, parse: Callable[[str], Any] = parse_int) -> Filter:
    return Filter(field, parse, lambda value, wanted: value == wanted)


def one_of(field: str, item: type = int) -> Filter:
    return Filter(field, parse_json_list(item), lambda value, wanted: value in wanted)


def greater(field: str) -> Filter:
    return Filter(field, parse_int, lambda value, wanted: value > wanted)


def icontains(field: str) -> Filter:
    return Filter(field, str, lambda value, wanted: wanted.lower() in (value or "").lower())


def between(field: str) -> Filter:
    def test(value: datetime | None, wanted: list[str]) -> bool:
        return value is not None and as_utc(wanted[0]) <= value <= as_utc(wanted[1])

    return Filter(field, parse_range, test)


PROJECT_FILTERS = {
    "pk": exact("id"),
    "pk__gt": greater("id"),
    "pk__in": one_of("id"),
    "name__icontains": icontains("name"),
}
ENVIRONMENT_V2_FILTERS = {
    "project_id": exact("project_id"),
    "project_id__in": one_of("project_id"),
    "dbt_version": exact("dbt_version", str),
    "dbt_version__in": one_of("dbt_version", str),
    "pk": exact("id"),
}
ENVIRONMENT_V3_FILTERS = {
    "dbt_version": exact("dbt_version", str),
    "dbt_version__in": one_of("dbt_version", str),
    "deployment_type": exact("deployment_type", str),
    "deployment_type__in": one_of("deployment_type", str),
    "type": exact("type", str),
    "name": exact("name", str),
    "name__icontains": icontains("name"),
    "credentials_id": exact("credentials_id"),
    "id__gt": greater("id"),
    "pk": exact("id"),
}
JOB_FILTERS = {
    "project_id": exact("project_id"),
    "project_id__in": one_of("project_id"),
    "environment_id": exact("environment_id"),
    "name__icontains": icontains("name"),
    "pk": exact("id"),
    "dbt_version__in": one_of("dbt_version", str),
    "triggers_schedule": Filter(
        "triggers", parse_bool, lambda value, wanted: bool(value.get("schedule")) == wanted
    ),
}
# The job filter is job_definition_id; a `job_id` parameter is not a filter and is
# ignored, as any unknown parameter is (reference §8.5, §16.2).
RUN_FILTERS = {
    "job_definition_id": exact("job_definition_id"),
    "project_id": exact("project_id"),
    "project_id__in": one_of("project_id"),
    "environment_id": exact("environment_id"),
    "status": exact("status"),
    "status__in": one_of("status"),
    "id__gt": greater("id"),
    "pk": exact("id"),
    "pk__in": one_of("id"),
    "has_docs_generated": exact("has_docs_generated", parse_bool),
    "has_sources_generated": exact("has_sources_generated", parse_bool),
    "dbt_version": exact("dbt_version", str),
    "dbt_version__in": one_of("dbt_version", str),
    "created_at__range": between("created_at"),
    "finished_at__range": between("finished_at"),
}
RUN_ORDERS = ("id", "created_at", "finished_at")
OBJECT_ORDERS = ("id", "name", "created_at", "updated_at")
STATES = {"1": {1}, "2": {2}, "active": {1}, "deleted": {2}, "all": {1, 2}}


def single_values(query: dict[str, list[str]]) -> dict[str, str]:
    """One value per key, the last one, as Django's QueryDict.get reads it (§5.1)."""
    return {key: values[-1] for key, values in query.items()}


def apply_filters(
    rows: list[Any], params: dict[str, str], filters: dict[str, Filter], echo: dict[str, Any]
) -> list[Any]:
    for name, spec in filters.items():
        if name in params:
            wanted = spec.parse(params[name])
            echo[name] = wanted
            rows = [row for row in rows if spec.test(value_of(row, spec.field), wanted)]
    return rows


def ordered(rows: list[Any], order_by: str, allowed: tuple[str, ...]) -> list[Any]:
    field = order_by.removeprefix("-")
    if field not in allowed:
        raise BadRequest(
            f"Invalid order_by '{order_by}': use one of {', '.join(allowed)}, "
            "optionally prefixed with '-'."
        )
    rows = sorted(rows, key=lambda row: value_of(row, "id"))
    # PostgreSQL sorts NULLs last ascending and FIRST descending: with -finished_at an
    # unfinished run comes before every finished one (the trap of reference §8.5).
    # Python's reverse sort keeps equal keys in id order, like a tie-broken ORDER BY.
    return sorted(
        rows,
        key=lambda row: (value_of(row, field) is None, value_of(row, field)),
        reverse=order_by.startswith("-"),
    )


def list_body(
    rows: list[Any],
    query: dict[str, list[str]],
    *,
    filters: dict[str, Filter],
    echo: dict[str, Any],
    state_default: str | None,
    stateful: bool = True,
    orders: tuple[str, ...] = OBJECT_ORDERS,
    serialize: Callable[[Any], Any] = lambda row: row,
) -> dict[str, Any]:
    """The `data` and `extra` of a list answer; `echo` starts with the path's ids."""
    params = single_values(query)
    limit = parse_int(params.get("limit", str(MAX_LIMIT)))
    offset = parse_int(params.get("offset", "0"))
    if limit > MAX_LIMIT:
        raise BadRequest(f"The limit parameter must be {MAX_LIMIT} or less, not {limit}.")
    if limit < 1 or offset < 0:
        raise BadRequest("limit must be positive and offset may not be negative.")
    filters_echo: dict[str, Any] = {"limit": limit, "offset": offset, **echo}
    if state_default is not None:
        raw_state = params.get("state", state_default)
        if raw_state not in STATES:
            raise BadRequest(
                f"'{raw_state}' is not a valid state: use 1, 2, active, deleted or all."
            )
        filters_echo["state"] = int(raw_state) if raw_state.isdigit() else raw_state
        if stateful:  # runs echo a state but have none of their own
            rows = [row for row in rows if value_of(row, "state") in STATES[raw_state]]
    rows = apply_filters(rows, params, filters, filters_echo)
    order_by = params.get("order_by") or "id"
    rows = ordered(rows, order_by, orders)
    page = rows[offset : offset + limit]
    return {
        "data": [serialize(row) for row in page],
        "extra": {
            "filters": filters_echo,
            "order_by": order_by,
            "pagination": {"count": len(page), "total_count": len(rows)},
        },
    }


def include_related(query: dict[str, list[str]]) -> set[str]:
    """`run_steps,job`, `["trigger","job"]`, `['a','b']` and `["run_steps,job"]` alike (§5.1)."""
    raw = single_values(query).get("include_related", "")
    cleaned = raw.translate(str.maketrans("", "", "[]'\""))
    return {name.strip() for name in cleaned.split(",") if name.strip()}
