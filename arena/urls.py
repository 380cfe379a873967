from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from arena.views import healthz, metrics

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("leaderboard/", include("ratings.urls")),
    path("benchmarks/", include("ratings.benchmarks.urls")),
    path("exports/", include("ratings.exports.urls")),
    path("api/", include("ratings.api.urls")),
    path("", include("battles.voting.urls")),
]

handler404 = "arena.errors.not_found"
handler500 = "arena.errors.server_error"
handler403 = "arena.errors.forbidden"
handler400 = "arena.errors.bad_request"
