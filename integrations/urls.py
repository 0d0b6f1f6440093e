from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.integration_list_view, name="list"),
    path("new/", views.gallery_view, name="gallery"),
    path("new/<slug:key>/", views.connect_view, name="connect"),
    path("<int:pk>/", views.detail_view, name="detail"),
    path("<int:pk>/edit/", views.edit_view, name="edit"),
    path("<int:pk>/sync/", views.sync_now_view, name="sync"),
    path("<int:pk>/schedule/", views.schedule_view, name="schedule"),
    path("<int:pk>/disconnect/", views.disconnect_view, name="disconnect"),
    path("<int:pk>/runs/<int:run_id>/status/", views.run_status_view, name="run-status"),
]
