"""A stand-in dbt Cloud Administrative API: a real HTTP server on 127.0.0.1 that follows
../shared/reference/dbt-cloud-api.md (envelope, pagination and filters, trailing-slash
redirects, token checks, 404s, per-step artifacts, timestamp formats), for the catalog's
dbt Cloud tests. Tests build the account's world with `add_*` and inject faults with
`fail_next`, `delay_next` and `truncate_next`; `state.requests` records every call.

    standin = DbtCloudStandin().start()
    standin.add_account(70403103922125, "Acme")
    standin.add_project(70403103922200, "jaffle_shop")
    standin.add_environment(70403103922300, 70403103922200, "Prod", deployment_type="production")
    standin.add_job(70403103922400, 70403103922200, 70403103922300, "Nightly")
    standin.add_jaffle_shop_run(70403110257794, 70403103922400)

Layout: standin.py (the API tests use), state.py (what is served), objects.py (JSON
shapes), queries.py (list filters, ordering, pagination), endpoints.py (one function per
path), replies.py (envelope, faults), server.py (HTTP), jaffle.py (fixture artifacts).
"""

from .jaffle import docs_run_results, jaffle_shop_steps
from .objects import TIMEOUT_MESSAGE
from .replies import envelope
from .standin import DbtCloudStandin
from .state import RunRow, RunStep, StandinState

__all__ = [
    "TIMEOUT_MESSAGE",
    "DbtCloudStandin",
    "RunRow",
    "RunStep",
    "StandinState",
    "docs_run_results",
    "envelope",
    "jaffle_shop_steps",
]
