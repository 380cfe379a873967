from django.urls import path

from ratings.api import views

app_name = "api"

urlpatterns = [
    path("schema/", views.schema, name="schema"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("models/", views.models, name="models"),
    path("votes/", views.votes, name="votes"),
    path("benchmarks/", views.benchmarks, name="benchmarks"),
]
