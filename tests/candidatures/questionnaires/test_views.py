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
