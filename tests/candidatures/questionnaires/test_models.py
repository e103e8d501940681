"""The questionnaire read in one hand-written query gives exactly what the ORM gives."""

import pytest
from django.forms.models import model_to_dict

from candidatures.questionnaires.models import EtapeQuestionnaire, Question
from tests.candidatures.factories import AppelFactory

pytestmark = pytest.mark.django_db


def orm_questionnaire(appel):
    return [
        (etape, list(Question.objects.filter(etape=etape).order_by("ordre", "pk")))
        for etape in EtapeQuestionnaire.objects.filter(appel=appel).order_by("ordre", "pk")
    ]


def as_data(steps):
    fields = [field.attname for field in Question._meta.concrete_fields]
    return [
        (
            model_to_dict(etape),
            [{name: getattr(question, name) for name in fields} for question in questions],
        )
        for etape, questions in steps
    ]


def test_with_questions_equals_the_orm_field_by_field_empty_step_included():
    appel, other = AppelFactory(), AppelFactory()
    # A step staff created before its questions, placed first; options (JSON) of every kind.
    empty = EtapeQuestionnaire.objects.create(appel=appel, ordre=0, titre="À venir")
    etape = EtapeQuestionnaire.objects.filter(appel=appel, ordre__gt=0).first()
    Question.objects.create(
        etape=etape,
        ordre=99,
        code="leviers",
        libelle="Leviers « mobilisés »",
        type=Question.Type.CHOIX_MULTIPLE,
        options={"choix": ["Circuits courts", "Foncier"], "autre": True, "min": 1.5},
    )

    steps = EtapeQuestionnaire.objects.with_questions(appel)

    assert as_data(steps) == as_data(orm_questionnaire(appel))
    assert steps[0] == (empty, [])
    assert steps[1][1][-1].options == {
        "choix": ["Circuits courts", "Foncier"],
        "autre": True,
        "min": 1.5,
    }
    assert all(not step._state.adding for step, _questions in steps)
    assert [etape.appel_id for etape, _questions in steps] == [appel.pk] * len(steps)
    assert as_data(EtapeQuestionnaire.objects.with_questions(other)) == as_data(
        orm_questionnaire(other)
    )


def test_with_questions_of_a_call_without_questionnaire_is_empty():
    appel = AppelFactory()
    EtapeQuestionnaire.objects.filter(appel=appel).delete()

    assert EtapeQuestionnaire.objects.with_questions(appel) == []
