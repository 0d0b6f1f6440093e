from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.catalog_home, name="home"),
    path("tables/<int:pk>/", views.table_view, name="table"),
    path("tables/<int:pk>/edit/", views.table_edit_view, name="table-edit"),
    path("columns/<int:pk>/edit/", views.column_edit_view, name="column-edit"),
    path("exposures/", views.exposure_list, name="exposures"),
    path("exposures/<int:pk>/", views.exposure_view, name="exposure"),
    path("terms/", views.term_list, name="terms"),
    path("terms/<int:pk>/", views.term_view, name="term"),
    path("groups/", views.group_list, name="groups"),
    path("jobs/", views.job_list, name="jobs"),
    path("freshness/", views.freshness_view, name="freshness"),
]
