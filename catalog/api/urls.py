from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("tables/", views.table_by_path, name="table-by-path"),
    path("tables/<int:pk>/", views.table, name="table"),
    path("tables/<int:pk>/columns/", views.table_columns, name="table-columns"),
    path("tables/<int:pk>/tests/", views.table_tests, name="table-tests"),
    path("tables/<int:pk>/lineage/", views.table_lineage, name="table-lineage"),
    path("schema/", views.schema, name="schema"),
]
