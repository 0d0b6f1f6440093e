"""The search benchmark's fill, against the catalog schema the migrations build today."""

from __future__ import annotations

import pytest
from django.db import connection

from benchmarks.catalog_search import create_integrations, fill_sql
from catalog.models import Column, DbtNode, DbtTest, Table

pytestmark = pytest.mark.django_db


def test_the_search_benchmark_fills_the_current_catalog_schema():
    ids = create_integrations()
    with connection.cursor() as cursor:
        for _step, sql in fill_sql(tables=100, columns_per_table=3, warehouses=ids[:2], dbt=ids[2]):
            cursor.execute(sql)
    assert Table.objects.count() == 100
    assert Column.objects.count() == 300
    assert DbtNode.objects.count() == 5 and DbtTest.objects.count() == 20
    assert Table.objects.filter(properties={}).count() == 100
