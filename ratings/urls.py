from django.urls import path

from ratings import views

app_name = "ratings"

urlpatterns = [
    path("", views.leaderboard, name="leaderboard"),
    path("pairs/", views.pairs, name="pairs"),
    path("history/", views.history, name="history"),
    path("cost/", views.cost, name="cost"),
    path("decision/", views.decision, name="decision"),
    path("decision/objective/", views.decision_objective, name="decision_objective"),
    path("quality/", views.quality, name="quality"),
    path("models/<uuid:code>/", views.model_page, name="model"),
    path("integrity/", views.integrity, name="integrity"),
]
