"""Participant-space routes of sondage; `cycle/urls.py` includes them in the `cycle` namespace."""

from django.urls import path

from cycle.sondage import views

urlpatterns = [
    path("<int:participant_pk>/sondage/", views.sondage, name="sondage"),
]
