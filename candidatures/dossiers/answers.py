"""A dossier's answers to its call's questionnaire, for reading: the applicant's review,
the staff and jury pages, the exports, « mes données » and the frozen snapshot all read them
here: one dossier's after ``candidature.read_answers()``, a list's through prefetch-friendly
``.all()`` (prefetch ``appel__etapes_questionnaire__questions``, ``reponses`` and ``pieces``)."""

QUESTIONNAIRE_PREFETCH = ["appel__etapes_questionnaire__questions", "reponses", "pieces"]


def review(candidature, questionnaire=None) -> list:
    """[(step title, [(question, answer as text, [its PieceJointe])])] in the form's order."""
    if questionnaire is None:
        questionnaire = candidature.questionnaire()
    valeurs = candidature.valeurs()
    pieces = candidature.pieces_list()
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
    """``review`` after reading what it needs in three queries (the questionnaire, as
    ``candidature.read_questionnaire()`` gives it, unless passed; answers; pieces)."""
    if questionnaire is None:
        questionnaire = candidature.read_questionnaire()
    candidature.read_answers()
    return review(candidature, questionnaire)


def files_text(pieces) -> str:
    """Files as names and SHA-256 (exports, « mes données »): one line each."""
    return "\n".join(f"{piece.nom_original} (SHA-256 {piece.sha256})" for piece in pieces)
