from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.catalog_home, name="home"),
    path("tables/<int:pk>/", views.table_view, name="table"),
]
