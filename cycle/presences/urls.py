"""Participant-space routes of presences; `cycle/urls.py` includes them in the `cycle` namespace."""

from django.urls import path

from cycle.presences import views

urlpatterns = [
    path("<int:participant_pk>/attestations/", views.attestations, name="attestations"),
    path(
        "<int:participant_pk>/attestations/<int:membre_pk>.pdf",
        views.attestation_pdf,
        name="attestation_pdf",
    ),
]
