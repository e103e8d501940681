"""Workflows of a call's questionnaire: give a call the standard questionnaire, copy one
call's questionnaire to another (« Préparer l'édition suivante »), and the safe-change rule.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import EtapeQuestionnaire, Question
from .standard import STANDARD_STEPS

LOCKED_DELETE = (
    "Cette question ne peut plus être supprimée : un dossier de l'appel a déjà été déposé avec "
    "elle. Vous pouvez encore corriger son libellé et son aide."
)
LOCKED_TYPE = (
    "Le type de cette question ne peut plus changer : un dossier de l'appel a déjà été déposé "
    "avec elle. Vous pouvez encore corriger son libellé et son aide."
)
LOCKED_STEP_DELETE = (
    "Cette étape ne peut plus être supprimée : un dossier de l'appel a déjà été déposé."
)


def has_deposits(appel) -> bool:
    """Whether a dossier of ``appel`` has ever been deposited (a Depot exists): from then on,
    its questions are neither deleted nor retyped."""
    if appel is None or appel.pk is None:
        return False
    return appel.candidatures.filter(depots__isnull=False).exists()


def check_question_change(*, question, deleting=False, new_type=None) -> None:
    """Raise ValidationError (French) when the change would betray a deposited dossier."""
    if question.pk is None:
        return
    if not (deleting or (new_type and new_type != question.type)):
        return
    if has_deposits(question.etape.appel):
        raise ValidationError(LOCKED_DELETE if deleting else LOCKED_TYPE, code="locked")


def _create_steps(*, appel, steps) -> list[EtapeQuestionnaire]:
    first = (
        max(
            EtapeQuestionnaire.objects.filter(appel=appel).values_list("ordre", flat=True),
            default=0,
        )
        + 1
    )
    created = []
    for offset, step in enumerate(steps):
        etape = EtapeQuestionnaire.objects.create(
            appel=appel, ordre=first + offset, titre=step["titre"], intro=step.get("intro", "")
        )
        Question.objects.bulk_create(
            Question(
                etape=etape,
                ordre=number,
                code=question["code"],
                libelle=question["libelle"],
                libelle_court=question.get("libelle_court", ""),
                aide=question.get("aide", ""),
                manque=question.get("manque", ""),
                obligatoire=question.get("obligatoire", True),
                type=question["type"],
                options=question.get("options", {}),
            )
            for number, question in enumerate(step["questions"], start=1)
        )
        created.append(etape)
    return created


@transaction.atomic
def create_standard_questionnaire(*, appel, steps=None) -> list[EtapeQuestionnaire]:
    """Append the standard questionnaire (``standard.STANDARD_STEPS``, or ``steps`` in the
    same shape) to ``appel``'s steps. Side effects: the EtapeQuestionnaire and Question rows."""
    return _create_steps(appel=appel, steps=steps if steps is not None else STANDARD_STEPS)


def questionnaire_data(appel) -> list[dict]:
    """``appel``'s questionnaire in the shape of ``standard.STANDARD_STEPS``."""
    etapes = EtapeQuestionnaire.objects.filter(appel=appel).prefetch_related("questions")
    return [
        {
            "titre": etape.titre,
            "intro": etape.intro,
            "questions": [
                {
                    "code": question.code,
                    "libelle": question.libelle,
                    "libelle_court": question.libelle_court,
                    "aide": question.aide,
                    "manque": question.manque,
                    "obligatoire": question.obligatoire,
                    "type": question.type,
                    "options": dict(question.options or {}),
                }
                for question in etape.questions.all()
            ],
        }
        for etape in etapes
    ]


@transaction.atomic
def copy_questionnaire(*, source, target) -> list[EtapeQuestionnaire]:
    """Copy every step and question of call ``source`` to call ``target`` (none answered
    there yet), after ``target``'s own steps if it has some.

    Side effects: new EtapeQuestionnaire and Question rows on ``target``; no answer is copied.
    """
    return _create_steps(appel=target, steps=questionnaire_data(source))


def copy_questionnaire_to_next_edition(*, source, target, offset) -> str | None:
    """The questionnaire's part of « Préparer l'édition suivante ».

    Registered in ``candidatures.appels.hooks.edition_copiers`` (candidatures/apps.py) and
    called by ``candidatures.appels.services.prepare_next_edition``, inside its transaction.
    Side effects: ``copy_questionnaire`` (every step and question of ``source`` on
    ``target``, no answer, no file). ``offset`` is not needed: a question holds no date.
    Returns what it copied in French (« 2 étapes, 7 questions »), or None without steps.
    """
    etapes = copy_questionnaire(source=source, target=target)
    if not etapes:
        return None
    questions = Question.objects.filter(etape__in=etapes).count()
    return f"{_plural(len(etapes), 'étape')}, {_plural(questions, 'question')} du questionnaire"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count > 1 else ''}"
