from django.urls import path

from ratings.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.index, name="index"),
    path("votes.<str:fmt>", views.votes, name="votes"),
    path("battles.<str:fmt>", views.battles, name="battles"),
    path("leaderboard.<str:fmt>", views.leaderboard, name="leaderboard"),
]
