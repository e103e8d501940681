import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch

from candidatures.models import Candidature, Collectivite, PieceJointe
from tests.candidatures.factories import (
    CandidatureFactory,
    PieceJointeFactory,
    complete_candidature,
    question_of,
)
from tests.factories import UserFactory

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


def as_fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def orm_lookup(user, pk):
    return (
        Candidature.objects.visible_to(user)
        .select_related("appel", "collectivite", "collectivite__epci")
        .get(pk=pk)
    )


@pytest.mark.parametrize("insee", ["62498", None])
def test_visible_one_gives_what_the_orm_gives_field_by_field(insee, django_assert_num_queries):
    user = UserFactory()
    collectivite = (
        Collectivite.objects.get(insee=insee)
        if insee
        else Collectivite.objects.filter(nature=Collectivite.Nature.EPCI).first()
    )
    dossier = complete_candidature(createur=user, collectivite=collectivite, numero="AMI-001")
    expected = orm_lookup(user, dossier.pk)

    with django_assert_num_queries(1):
        found = Candidature.objects.visible_one(user, dossier.pk)
        related = (found.appel, found.collectivite, found.collectivite.epci)

    assert as_fields(found) == as_fields(expected)
    assert [as_fields(obj) if obj else None for obj in related] == [
        as_fields(expected.appel),
        as_fields(expected.collectivite),
        as_fields(expected.collectivite.epci) if expected.collectivite.epci else None,
    ]
    assert (related[2] is None) == (insee is None)
    assert found._state.adding is False


def test_visible_one_of_someone_else_or_nobody_is_none():
    owner, other = UserFactory(), UserFactory()
    dossier = CandidatureFactory(createur=owner)

    assert [
        Candidature.objects.visible_one(other, dossier.pk),
        Candidature.objects.visible_one(AnonymousUser(), dossier.pk),
        Candidature.objects.visible_one(owner, dossier.pk + 1000),
        Candidature.objects.visible_one(owner, 2**63),
        Candidature.objects.visible_one(owner, -(2**63) - 1),
    ] == [None] * 5
    assert Candidature.objects.visible_one(owner, dossier.pk) == dossier
