from django.urls import path

from battles import views

app_name = "battles"

urlpatterns = [
    path("", views.battle_page, name="battle"),
    path("battle/<uuid:code>/vote/", views.vote, name="vote"),
    path("battle/<uuid:code>/skip/", views.skip, name="skip"),
]
