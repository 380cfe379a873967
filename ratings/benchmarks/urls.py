from django.urls import path

from ratings.benchmarks import views

app_name = "benchmarks"

urlpatterns = [
    path("", views.index, name="index"),
    path("composite/", views.composite, name="composite"),
    path("<uuid:code>/", views.detail, name="detail"),
]
