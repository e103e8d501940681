"""Retention of « Questions au Cerdd » (RGPD), run by ``purger_donnees`` and the weekly task
with the other rules (``candidatures.retention.purgers``; ``cycle/apps.py`` registers
``purge_questions``).

The rule, as « Mes questions au Cerdd » says it (``views.RETENTION_NOTE``): 12 months after
the cycle's last séance (end of day, Paris), its questions, their answers and their files are
deleted, like the network's discussions. The cycle's FAQ stays: its entries were rewritten by
the team without anybody's identity, and lose only the link to their question.
"""

from django.db import transaction

from cerdd_ami import files
from cycle.questions.models import QuestionCerdd
from cycle.seances.services import cycles_ended_months_ago

QUESTIONS_RETENTION_MONTHS = 12
QUESTIONS = (
    "Échanges « Questions au Cerdd » et leurs pièces jointes (cycle fini depuis plus de 12 mois)"
)


def questions_past_retention(*, now=None):
    """The questions of the cycles whose last séance ended more than 12 months ago."""
    expired = cycles_ended_months_ago(months=QUESTIONS_RETENTION_MONTHS, now=now)
    return QuestionCerdd.objects.filter(participant__cycle__in=expired)


@transaction.atomic
def purge_questions(*, now=None) -> dict[str, int]:
    """Delete the questions past retention; returns their count.

    Side effects: DELETE of those QuestionCerdd rows (their FAQ entries keep their text, the link
    to the question set to NULL); once committed, their files are removed from storage.
    """
    questions = questions_past_retention(now=now).select_for_update(of=("self",))
    rows = list(questions.only("pk", "fichier"))
    for question in rows:
        files.delete_on_commit(question.fichier)
    QuestionCerdd.objects.filter(pk__in=[question.pk for question in rows]).delete()
    return {QUESTIONS: len(rows)}
