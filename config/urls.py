"""Top-level URL routes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from .access import role_not_required

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalog:home", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("catalog/", include("catalog.urls")),
    path("integrations/", include("integrations.urls")),
    path("api/v1/", include("catalog.api.urls")),
    path("account/", include("catalog.account_urls")),
    path("admin/", admin.site.urls),
]
