"""Demo « Questions au Cerdd » of a running cycle (``seed_demo``): two questions answered (one
published in the FAQ), one pending. Idempotent: a cycle with questions is left as it is."""

from datetime import timedelta

from django.utils import timezone

from . import services
from .models import QuestionCerdd

QUESTIONS = [
    (
        "Bonjour,\nnous aimerions organiser un atelier avec les habitant·es avant la prochaine "
        "séance : avez-vous des exemples de questionnaires à partager ?",
        "Bonjour,\noui : la boîte à outils de la séance 2 contient deux modèles de "
        "questionnaires, dont un pour les publics éloignés. Nous pouvons aussi en parler "
        "lors de la prochaine séance.",
        True,
    ),
    (
        "Notre technicienne change de poste en septembre : qui la remplace dans le binôme ?",
        "Bonjour,\nvotre collectivité désigne la personne qui la remplace ; modifiez votre "
        "binôme dans l'espace du cycle dès que vous la connaissez.",
        False,
    ),
    (
        "Peut-on venir à trois à la séance sur la concertation réglementaire ?",
        None,
        False,
    ),
]
FAQ_QUESTION = "Avez-vous des exemples de questionnaires à proposer aux habitant·es ?"


def seed_questions(cycle, *, staff_user) -> int:
    """Three questions of the first participants of ``cycle`` that have a référent·e; returns
    how many it wrote."""
    if QuestionCerdd.objects.filter(participant__cycle=cycle).exists():
        return 0
    participants = (
        cycle.participants.actifs()
        .filter(candidature__acces__isnull=False)
        .select_related("candidature")
        .distinct()
        .order_by("candidature__numero", "pk")[: len(QUESTIONS)]
    )
    written = 0
    seance = cycle.current_seance()
    for index, (participant, (texte, reponse, faq)) in enumerate(
        zip(participants, QUESTIONS, strict=False)
    ):
        auteur = participant.candidature.acces.select_related("user").first().user
        question = services.ask_question(
            participant=participant,
            auteur=auteur,
            texte=texte,
            seance=seance if index == 0 else None,
        )
        # Aged a little, so the inbox shows « en attente depuis … ».
        QuestionCerdd.objects.filter(pk=question.pk).update(
            created_at=timezone.now() - timedelta(days=6 - 2 * index)
        )
        if reponse:
            services.answer_question(question=question, staff_user=staff_user, reponse=reponse)
        if faq:
            services.publish_to_faq(
                question=question,
                staff_user=staff_user,
                question_texte=FAQ_QUESTION,
                reponse=reponse,
            )
        written += 1
    return written
