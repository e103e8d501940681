"""Participant-space routes of questions; `cycle/urls.py` includes them in the `cycle` namespace."""

from django.urls import path

from cycle.questions import views

urlpatterns = [
    path("<int:participant_pk>/questions/", views.mes_questions, name="questions"),
    path(
        "<int:participant_pk>/questions/<int:question_pk>/fichier/",
        views.fichier,
        name="question_fichier",
    ),
    path("<int:participant_pk>/faq/", views.faq, name="faq"),
]
