"""A URL configuration with one view that fails, for tests of what happens to an unhandled error."""

from django.urls import path


def fails(request):
    raise RuntimeError("this view fails on purpose")


urlpatterns = [path("fails/", fails)]
