from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import logout
from arena.views import healthz, metrics

urlpatterns = [
    path("", include("accounts.urls")),
    # One sign-in page for the whole site: the admin's own password form would step around
    # PASSWORD_LOGIN=0 and single sign-on.
    path("admin/login/", RedirectView.as_view(url="/accounts/login/", query_string=True)),
    # The admin's "Log out" posts here: the same logout as everywhere, ending the provider's session too.
    path("admin/logout/", logout),
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
