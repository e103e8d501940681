"""A dossier's answers to its call's questionnaire, for reading: the applicant's review,
the staff and jury pages, the exports, « mes données » and the frozen snapshot all read them
here, through prefetch-friendly ``.all()`` (prefetch ``appel__etapes_questionnaire__questions``,
``reponses`` and ``pieces``)."""

from django.db.models import Prefetch, prefetch_related_objects

from candidatures.questionnaires.models import Reponse

from .models import PieceJointe

QUESTIONNAIRE_PREFETCH = ["appel__etapes_questionnaire__questions", "reponses", "pieces"]


def answers_prefetch() -> list:
    """A dossier's answers and pieces without their models' default order, which joins the
    questions and steps: ``review`` places each by its question (one page asks this on every
    view, so the joins' cost showed; pieces stay in upload order within a question)."""

    return [
        Prefetch("reponses", queryset=Reponse.objects.order_by()),
        Prefetch("pieces", queryset=PieceJointe.objects.order_by("uploaded_at", "pk")),
    ]


def review(candidature, questionnaire=None) -> list:
    """[(step title, [(question, answer as text, [its PieceJointe])])] in the form's order."""
    if questionnaire is None:
        questionnaire = candidature.questionnaire()
    valeurs = candidature.valeurs()
    pieces = list(candidature.pieces.all())
    return [
        (
            etape.titre,
            [
                (
                    question,
                    question.display(valeurs.get(question.pk)),
                    [piece for piece in pieces if piece.question_id == question.pk],
                )
                for question in questions
            ],
        )
        for _number, etape, questions in questionnaire
    ]


def review_of(candidature, questionnaire=None) -> list:
    """``review`` after reading what it needs in four queries (the questionnaire without
    joins, as ``candidature.questionnaire(...)`` gives it, unless passed)."""
    if questionnaire is None:
        questionnaire = candidature.read_questionnaire()
    prefetch_related_objects([candidature], *answers_prefetch())
    return review(candidature, questionnaire)


def files_text(pieces) -> str:
    """Files as names and SHA-256 (exports, « mes données »): one line each."""
    return "\n".join(f"{piece.nom_original} (SHA-256 {piece.sha256})" for piece in pieces)
