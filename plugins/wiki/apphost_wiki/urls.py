"""The wiki's URLconf (``ROOT_URLCONF``); names are for ``reverse()``."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("page/<slug:slug>/", views.page, name="page"),
    path("links/", views.links, name="links"),
]
