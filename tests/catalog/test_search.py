import pytest
from catalog.models import *
from catalog.selectors.search import catalog_search, SearchFilters
from tests.catalog.test_dbt_apply import warehouse, dbt, apply  # noqa
from tests.support.dbt_fixtures import one_run
pytestmark = pytest.mark.django_db

def test_dump(dbt, django_assert_max_num_queries):
    apply(dbt, one_run())
    for q, f in [("customers", {}), ("basic information", {}), ("finance", {}), ("finance-analytics@jaffle.example.com", {}), ("", {"kind": "view"}), ("revenue", {}), ("order_total", {}), ("", {"failing_tests": True}), ("", {"schema": "analytics_marts"})]:
        for b in ("postgres", "fallback"):
            p = catalog_search(query=q, filters=SearchFilters(**f), backend=b, per_page=100)
            print(b, repr(q), f, p.total, [(h.kind, h.path, h.table_id, h.score) for h in p.hits][:40])
