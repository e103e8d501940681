"""Workflows of « Questions au Cerdd »: a participant asks (``ask_question``), staff assign the
question to a colleague (``assign_question``) and answer it (``answer_question``), and publish an
answer useful to all in the cycle's FAQ (``publish_to_faq``), without the asker's identity.

Each function runs in one transaction and tells the people concerned through
``cerdd_ami.notifications.services.notify`` (e-mails leave after the commit, by the queue).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cerdd_ami import files, roles
from cerdd_ami.notifications.services import notify
from cycle.participants.models import Participant

from .models import MAX_TEXT_LENGTH, EntreeFAQ, QuestionCerdd

WITHDRAWN = (
    "Votre collectivité s'est retirée du cycle : vous pouvez relire vos questions et les "
    "réponses du Cerdd, mais plus en poser de nouvelle."
)
EMPTY_TEXT = {
    "texte": "Écrivez votre question.",
    "reponse": "Écrivez la réponse.",
    "question_texte": "Écrivez la question telle qu'elle paraîtra dans la FAQ.",
}


def _is_staff(user) -> bool:
    return bool(user and user.is_active and user.is_staff)


def _clean_text(texte: str, *, field: str = "texte") -> str:
    # Browsers post a textarea's line breaks as CRLF: stored as plain newlines.
    texte = (texte or "").replace("\r\n", "\n").strip()
    if not texte:
        raise ValidationError(EMPTY_TEXT[field], code="text_empty")
    if len(texte) > MAX_TEXT_LENGTH:
        raise ValidationError(
            "Le texte compte %(length)s caractères : la limite est de %(limit)s.",
            code="text_too_long",
            params={"length": len(texte), "limit": MAX_TEXT_LENGTH},
        )
    return texte


def _save_with_file(row):
    try:
        row.save()
    except Exception:
        # The file is written before the INSERT: don't leave it behind if the row fails.
        if row.fichier.name and row.fichier._committed:
            row.fichier.storage.delete(row.fichier.name)
        raise


def team_recipients() -> list:
    """Staff told of a new question: every active chargé·e de mission."""
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True, is_staff=True, groups__name=roles.CHARGE_DE_MISSION)
    )


def _lock(question) -> QuestionCerdd:
    return (
        QuestionCerdd.objects.select_for_update(of=("self",))
        .select_related("participant__cycle", "participant__candidature__collectivite")
        .get(pk=question.pk)
    )


@transaction.atomic
def ask_question(*, participant, auteur, texte, seance=None, fichier=None) -> QuestionCerdd:
    """``auteur``, one of the participation's people, asks the Cerdd a question.

    Refuses (ValidationError, in French) an empty or too long text, a séance of another cycle,
    a file that fails the upload checks (content, the call's size limit, antivirus), and a
    question from a withdrawn participant; PermissionDenied for anybody outside the
    participation. Side effects: a QuestionCerdd (its file stored), notifications to the team
    (every active chargé·e de mission).
    """
    texte = _clean_text(texte)
    participant = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("cycle__appel", "candidature__collectivite")
        .get(pk=participant.pk)
    )
    if not Participant.objects.of_user(auteur).filter(pk=participant.pk).exists():
        raise PermissionDenied("Vous ne participez pas au cycle avec cette collectivité.")
    if participant.statut == Participant.Statut.RETIRE:
        raise ValidationError(WITHDRAWN, code="withdrawn")
    if seance is not None and seance.cycle_id != participant.cycle_id:
        raise ValidationError(
            "Cette séance n'appartient pas au cycle de votre collectivité.", code="seance"
        )
    question = QuestionCerdd(participant=participant, auteur=auteur, seance=seance, texte=texte)
    if fichier is not None:
        appel = participant.cycle.appel
        question.type_mime = files.validate_upload(
            fichier,
            images_allowed=True,
            max_bytes=appel.max_file_bytes,
            room_bytes=appel.max_file_bytes,
        )
        question.nom_original = files.original_name(fichier.name)
        question.taille = fichier.size
        question.sha256 = files.sha256_of(fichier)
        question.fichier = fichier
    _save_with_file(question)
    notify(
        recipients=team_recipients(),
        titre=f"Nouvelle question au Cerdd de {participant}",
        url=question.staff_url(),
    )
    return question


@transaction.atomic
def assign_question(*, question, staff_user, assignee) -> QuestionCerdd:
    """Staff confide ``question`` to ``assignee`` (an active staff member), or to nobody
    (``assignee=None``). Side effects: ``QuestionCerdd.assignee`` updated; a notification to the
    assignee unless they assigned it to themselves."""
    if not _is_staff(staff_user):
        raise PermissionDenied("Seule l'équipe du Cerdd répond aux questions.")
    if assignee is not None and not _is_staff(assignee):
        raise ValidationError("Confiez la question à un membre de l'équipe.", code="assignee")
    question = _lock(question)
    question.assignee = assignee
    question.save(update_fields=["assignee"])
    if assignee is not None and assignee != staff_user:
        notify(
            recipients=[assignee],
            titre=f"{staff_user} vous confie une question de {question.participant}",
            url=question.staff_url(),
        )
    return question


@transaction.atomic
def answer_question(*, question, staff_user, reponse) -> QuestionCerdd:
    """Staff answer ``question`` (or correct their answer). Side effects: ``reponse``,
    ``repondue_par`` and, the first time, ``repondue_at`` recorded; a notification to the
    asker (the first answer only: a correction is silent)."""
    if not _is_staff(staff_user):
        raise PermissionDenied("Seule l'équipe du Cerdd répond aux questions.")
    reponse = _clean_text(reponse, field="reponse")
    question = _lock(question)
    first = question.repondue_at is None
    question.reponse = reponse
    question.repondue_par = staff_user
    if first:
        question.repondue_at = timezone.now()
    question.save(update_fields=["reponse", "repondue_par", "repondue_at"])
    if first and question.auteur is not None:
        notify(
            recipients=[question.auteur],
            titre="Le Cerdd a répondu à votre question",
            url=question.get_absolute_url(),
        )
    return question


@transaction.atomic
def publish_to_faq(*, question, staff_user, question_texte, reponse) -> EntreeFAQ:
    """Publish an answered ``question`` in its cycle's FAQ, as ``question_texte`` (rewritten by
    staff, without names) and ``reponse``; published again, the entry is updated. The asker's
    identity is never copied. Side effects: an EntreeFAQ created or updated. No notification."""
    if not _is_staff(staff_user):
        raise PermissionDenied("Seule l'équipe du Cerdd publie dans la FAQ.")
    question_texte = _clean_text(question_texte, field="question_texte")
    reponse = _clean_text(reponse, field="reponse")
    question = _lock(question)
    if question.repondue_at is None:
        raise ValidationError("Répondez d'abord à la question.", code="unanswered")
    entree, _created = EntreeFAQ.objects.update_or_create(
        question=question,
        defaults={
            "cycle": question.participant.cycle,
            "question_texte": question_texte,
            "reponse": reponse,
            "publiee_par": staff_user,
        },
    )
    return entree


def export_questions(candidature) -> tuple[str, list]:
    """The participation's questions, for « mes données » (``candidatures.dossiers.hooks``)."""
    participant = Participant.objects.filter(candidature=candidature).first()
    if participant is None:
        return "questions_au_cerdd", []
    return "questions_au_cerdd", [
        {
            "date": question.created_at,
            "de": getattr(question.auteur, "email", ""),
            "seance": question.seance.numero if question.seance else None,
            "question": question.texte,
            "fichier": question.nom_original,
            "reponse": question.reponse,
            "repondue_le": question.repondue_at,
        }
        for question in participant.questions.select_related("auteur", "seance").order_by(
            "created_at", "pk"
        )
    ]
