"""A questionnaire step page: as many queries for 3 questions as for 30."""

import pytest

from candidatures.questionnaires.models import Reponse
from tests.candidatures.factories import AppelFactory, CandidatureFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def call_with(count):
    kinds = ["texte_long", "choix_multiple", "nombre", "date", "oui_non", "email"]
    questions = [
        {
            "code": f"q{index}",
            "libelle": f"Question {index}",
            "type": kinds[index % len(kinds)],
            "options": {"choix": ["Un", "Deux"], "autre": True},
        }
        for index in range(count)
    ]
    return AppelFactory(questionnaire=[{"titre": "Questions", "questions": questions}])


def count_queries(client, django_assert_num_queries, count, expected=None):
    user = UserFactory()
    dossier = CandidatureFactory(appel=call_with(count), createur=user)
    for question in dossier.appel.etapes_questionnaire.get().questions.all():
        Reponse.objects.create(candidature=dossier, question=question, valeur=None)
    client.force_login(user)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/candidature/{dossier.pk}/etape/3/")
    assert response.status_code == 200
    assert response.content.decode().count('class="mb-3"') >= count
    return len(queries)


def test_step_page_queries_do_not_grow_with_the_questions(client, django_assert_num_queries):
    three = count_queries(client, django_assert_num_queries, 3)
    client.logout()
    thirty = count_queries(client, django_assert_num_queries, 30)

    assert thirty == three


def test_step_page_anonymous_and_wrong_user(client):
    dossier = CandidatureFactory(appel=call_with(3), createur=UserFactory())

    anonymous = client.get(f"/candidature/{dossier.pk}/etape/3/")
    client.force_login(UserFactory())
    other = client.get(f"/candidature/{dossier.pk}/etape/3/")

    assert anonymous.status_code == 302
    assert other.status_code == 404


def test_step_page_gives_the_counter_a_long_texts_minimum_and_maximum(client):
    user = UserFactory()
    appel = AppelFactory(
        questionnaire=[
            {
                "titre": "Projet",
                "questions": [
                    {
                        "code": "projet",
                        "libelle": "Décrivez votre projet",
                        "aide": "Le territoire, les partenaires.",
                        "type": "texte_long",
                        "options": {"min_caracteres": 500, "max_caracteres": 3000},
                    }
                ],
            }
        ]
    )
    dossier = CandidatureFactory(appel=appel, createur=user)
    client.force_login(user)

    content = client.get(f"/candidature/{dossier.pk}/etape/3/").content.decode()

    assert (
        '<textarea name="projet" cols="40" rows="8" maxlength="3000" data-compteur="1" '
        'data-min-caracteres="500" aria-describedby="id_projet_helptext" class="form-control" '
        'id="id_projet">'
    ) in content
    assert (
        '<div id="id_projet_helptext" class="form-text">Le territoire, les partenaires. '
        "500 caractères au moins, 3\u202f000 au plus.</div>"
    ) in content
    assert '<script src="/static/js/compteur.js"></script>' in content
