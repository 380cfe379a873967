from django.urls import path

from battles.voting import views

app_name = "battles"

urlpatterns = [
    path("", views.battle_page, name="battle"),
    path("battle/<uuid:code>/", views.battle_detail, name="battle_detail"),
    path("battle/<uuid:code>/vote/", views.vote, name="vote"),
    path("battle/<uuid:code>/skip/", views.skip, name="skip"),
    path("me/", views.my_board, name="my_board"),
    path("live/", views.live_start, name="live_start"),
    path("live/<uuid:code>/", views.live_battle, name="live"),
    path("live/<uuid:code>/follow-up/", views.live_follow_up, name="live_follow_up"),
]
