from django.urls import path

from . import views, views_engagements, views_journal, views_sondage

app_name = "cycle"

urlpatterns = [
    path("", views.espace, name="espace"),
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
    path("<int:participant_pk>/attestations/", views.attestations, name="attestations"),
    path(
        "<int:participant_pk>/attestations/<int:membre_pk>.pdf",
        views.attestation_pdf,
        name="attestation_pdf",
    ),
    path("<int:participant_pk>/seances/<int:numero>.ics", views.seance_ics, name="seance_ics"),
    path("<int:participant_pk>/calendrier.ics", views.calendrier_ics, name="calendrier_ics"),
    path("<int:participant_pk>/retrait/", views.retrait, name="retrait"),
    path("<int:participant_pk>/sondage/", views_sondage.sondage, name="sondage"),
    path("<int:participant_pk>/engagements/", views_engagements.engagements, name="engagements"),
    path(
        "<int:participant_pk>/engagements/cycle/",
        views_engagements.engagements_cycle,
        name="engagements_cycle",
    ),
    path("<int:participant_pk>/journal.pdf", views_engagements.journal_pdf, name="journal_pdf"),
    path("<int:participant_pk>/journal/", views_journal.journal_list, name="journal"),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/modifier/",
        views_journal.journal_edit,
        name="journal_modifier",
    ),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/supprimer/",
        views_journal.journal_delete,
        name="journal_supprimer",
    ),
    path(
        "<int:participant_pk>/journal-partage/",
        views_journal.journal_partage,
        name="journal_partage",
    ),
    path(
        "<int:participant_pk>/journal-partage/tour-de-table/<int:seance_numero>/",
        views_journal.tour_de_table,
        name="tour_de_table",
    ),
]
