"""Participant-space routes of the network; `cycle/urls.py` includes them in the `cycle`
namespace."""

from django.urls import path

from cycle.reseau import views

urlpatterns = [
    path("<int:participant_pk>/reseau/annuaire/", views.annuaire, name="annuaire"),
    path(
        "<int:participant_pk>/reseau/annuaire/accord/",
        views.annuaire_accord,
        name="annuaire_accord",
    ),
    path("<int:participant_pk>/reseau/mes-donnees/", views.mes_donnees, name="reseau_mes_donnees"),
    path("<int:participant_pk>/reseau/discussions/", views.discussions, name="discussions"),
    path(
        "<int:participant_pk>/reseau/discussions/<int:discussion_pk>/",
        views.discussion,
        name="discussion",
    ),
    path(
        "<int:participant_pk>/reseau/discussions/<int:discussion_pk>/suivre/",
        views.discussion_suivre,
        name="discussion_suivre",
    ),
    path(
        "<int:participant_pk>/reseau/discussions/<int:discussion_pk>/messages/"
        "<int:message_pk>/fichier/",
        views.message_fichier,
        name="message_fichier",
    ),
]
