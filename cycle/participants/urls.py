"""The participant space's own routes, in the `cycle` namespace (see `cycle/urls.py`)."""

from django.urls import path

from cycle.participants import views

urlpatterns = [
    path("<int:participant_pk>/binome/", views.binome, name="binome"),
    path("<int:participant_pk>/seances/<int:numero>/", views.seance, name="seance"),
    path(
        "<int:participant_pk>/seances/<int:numero>/note/",
        views.note_contexte,
        name="note_contexte",
    ),
    path(
        "<int:participant_pk>/seances/<int:numero>/documents/<int:document_pk>/",
        views.document_seance,
        name="document_seance",
    ),
    path("<int:participant_pk>/seances/<int:numero>.ics", views.seance_ics, name="seance_ics"),
    path("<int:participant_pk>/calendrier.ics", views.calendrier_ics, name="calendrier_ics"),
    path("<int:participant_pk>/retrait/", views.retrait, name="retrait"),
]
