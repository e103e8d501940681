import pytest
from django.db.models import Prefetch

from candidatures.models import Candidature, PieceJointe
from tests.candidatures.factories import (
    CandidatureFactory,
    PieceJointeFactory,
    complete_candidature,
    question_of,
)

pytestmark = pytest.mark.django_db


def pieces_of(dossier):
    return [(p.pk, p.question_id, p.nom_original, p.sha256) for p in dossier.pieces_list()]


def test_read_answers_gives_what_the_prefetch_gives_in_two_queries(django_assert_num_queries):
    dossier = complete_candidature()
    complete_candidature()  # another dossier's answers and pieces stay out
    PieceJointeFactory(
        candidature=dossier,
        question=question_of(dossier.appel_id, "complement"),
        nom_original="annexe.pdf",
    )
    prefetched = Candidature.objects.prefetch_related(
        "reponses", Prefetch("pieces", PieceJointe.objects.order_by("uploaded_at", "pk"))
    ).get(pk=dossier.pk)
    read = Candidature.objects.get(pk=dossier.pk)

    with django_assert_num_queries(2):
        read.read_answers()
        valeurs, pieces = read.valeurs(), pieces_of(read)

    assert (valeurs, pieces) == (prefetched.valeurs(), pieces_of(prefetched))
    assert [name for _, _, name, _ in pieces] == ["lettre-de-motivation.pdf", "annexe.pdf"]
    assert valeurs[question_of(dossier.appel_id, "motivations").pk] == (
        "Notre Plan Climat a été écrit avec les habitant·es.\nNous voulons aller plus loin : "
        "faire des citoyen·nes des acteurs de la transition."
    )


def test_valeurs_without_read_answers_asks_the_database_each_time(django_assert_num_queries):
    dossier = CandidatureFactory()

    with django_assert_num_queries(2):
        assert (dossier.valeurs(), dossier.pieces_list()) == ({}, [])
