from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F
from django.forms.models import model_to_dict

from candidatures.models import Depot, Evenement
from cerdd_ami.queries import CompiledQuery
from tests.candidatures.factories import CandidatureFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2021, 3, 1, 9, 30, tzinfo=UTC)


def events_of(pk):
    return (
        Evenement.objects.filter(candidature=pk)
        .annotate(actor_email=F("actor__email"))
        .order_by("-at", "pk")
    )


def as_rows(evenements):
    return [(model_to_dict(e) | {"pk": e.pk, "actor_email": e.actor_email}) for e in evenements]


@pytest.fixture
def two_dossiers():
    first, second = CandidatureFactory(), CandidatureFactory()
    actor = UserFactory(email="elu@loos.test")
    for hours, dossier, nature, who in [
        (1, first, Evenement.Nature.CREATION, actor),
        (3, first, Evenement.Nature.DEPOT, None),
        (2, first, Evenement.Nature.INVITATION, actor),
        (1, second, Evenement.Nature.CREATION, None),
    ]:
        Evenement.objects.create(
            candidature=dossier,
            nature=nature,
            at=START + timedelta(hours=hours),
            actor=who,
            detail=f"{nature} ({hours} h)",
        )
    return first, second


def test_compiled_query_gives_what_the_orm_gives_for_each_value(two_dossiers):
    first, second = two_dossiers
    read = CompiledQuery(events_of)

    assert as_rows(read(first.pk)) == as_rows(events_of(first.pk))
    assert as_rows(read(second.pk)) == as_rows(events_of(second.pk))
    assert [(e.nature, e.at, e.actor_email) for e in read(first.pk)] == [
        ("depot", START + timedelta(hours=3), None),
        ("invitation", START + timedelta(hours=2), "elu@loos.test"),
        ("creation", START + timedelta(hours=1), "elu@loos.test"),
    ]
    assert read(-1) == []


def test_compiled_query_builds_its_sql_once_and_runs_one_query(
    two_dossiers, django_assert_num_queries
):
    first, second = two_dossiers
    built = []

    def build(pk):
        built.append(pk)
        return events_of(pk)

    read = CompiledQuery(build)
    read(first.pk)

    with django_assert_num_queries(1):
        rows = read(second.pk)

    assert (len(built), [e.candidature_id for e in rows]) == (1, [second.pk])


def test_compiled_query_converts_values_as_the_orm_does():
    dossier = CandidatureFactory()
    Depot.objects.create(
        candidature=dossier, version=1, submitted_at=START, contenu={}, recu="recus/1.pdf"
    )
    read = CompiledQuery(lambda pk: Depot.objects.filter(candidature=pk).defer("contenu"))

    (depot,) = read(dossier.pk)

    assert (depot.recu.name, depot.submitted_at, depot.get_deferred_fields()) == (
        "recus/1.pdf",
        START,
        {"contenu"},
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda pk: Evenement.objects.filter(candidature=pk).select_related("actor"),
            "A CompiledQuery cannot select or prefetch related rows.",
        ),
        (
            lambda pk: Evenement.objects.filter(candidature=pk).prefetch_related("actor"),
            "A CompiledQuery cannot select or prefetch related rows.",
        ),
        (
            lambda pk: Evenement.objects.all(),
            "A CompiledQuery must use its value as a query parameter.",
        ),
    ],
)
def test_compiled_query_refuses_what_raw_sql_cannot_carry(build, message):
    with pytest.raises(ValueError, match=message):
        CompiledQuery(build)(1)
