"""Participant-space routes of journal; `cycle/urls.py` includes them in the `cycle` namespace."""

from django.urls import path

from cycle.journal import views

urlpatterns = [
    path("<int:participant_pk>/engagements/", views.engagements, name="engagements"),
    path(
        "<int:participant_pk>/engagements/cycle/",
        views.engagements_cycle,
        name="engagements_cycle",
    ),
    path("<int:participant_pk>/journal.pdf", views.journal_pdf, name="journal_pdf"),
    path("<int:participant_pk>/journal/", views.journal_list, name="journal"),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/modifier/",
        views.journal_edit,
        name="journal_modifier",
    ),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/supprimer/",
        views.journal_delete,
        name="journal_supprimer",
    ),
    path(
        "<int:participant_pk>/journal-partage/",
        views.journal_partage,
        name="journal_partage",
    ),
    path(
        "<int:participant_pk>/journal-partage/tour-de-table/<int:seance_numero>/",
        views.tour_de_table,
        name="tour_de_table",
    ),
]
