"""Workflows of a dossier while it is being prepared: creation, access, pieces, extension.

Submitting it, reopening it and its receipt are in ``submission.py``. Each function runs in one
transaction, takes keyword-only arguments and is the only way its status change happens; views,
admin actions and commands all call these. E-mails are sent with ``transaction.on_commit`` so
that nothing is mailed for a change that is rolled back.
"""

import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from candidatures.appels.models import Appel
from candidatures.questionnaires.models import Reponse
from cerdd_ami import files
from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import de_nom, format_datetime_fr

from .models import (
    AccesCandidature,
    Candidature,
    Evenement,
    PieceJointe,
)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

NOT_EDITABLE = "Ce dossier ne peut plus être modifié."


class CandidatureExists(ValidationError):
    """The collectivité already has a dossier for this appel; the view offers to join it."""

    def __init__(self, candidature):
        self.candidature = candidature
        super().__init__(
            "%(collectivite)s a déjà un dossier de candidature pour cet appel. Vous pouvez "
            "demander à ses référent·es de vous y inviter.",
            code="exists",
            params={"collectivite": candidature.collectivite.nom},
        )


# ---------------------------------------------------------------------------------------------
# Helpers


def _lock_candidature(candidature) -> Candidature:
    return (
        Candidature.objects.select_for_update(of=("self",))
        .select_related("appel", "collectivite")
        .get(pk=candidature.pk)
    )


def _refresh_caller_instance(candidature, locked) -> None:
    # The caller's object must not go on showing the state from before the workflow.
    for field in ("statut", "numero", "deposee_at", "prolongation_jusqu_au", "updated_at"):
        setattr(candidature, field, getattr(locked, field))


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError("Saisissez une adresse e-mail valide.", code="invalid") from None
    return email


# ---------------------------------------------------------------------------------------------
# Creating a dossier and working on it together


@transaction.atomic
def create_candidature(*, appel, collectivite, user) -> Candidature:
    """Start a draft dossier for ``collectivite`` on ``appel``.

    Refuses (ValidationError, in French) when the appel is not open now or the collectivité is
    not eligible; raises ``CandidatureExists`` (carrying the existing dossier) when there is one.
    Side effects: creates the Candidature (brouillon), the creator's AccesCandidature (CREATEUR)
    and an Evenement CREATION. No e-mail.
    """
    now = timezone.now()
    if not appel.est_publie:
        raise ValidationError("Cet appel n'est pas publié : il n'accepte pas de candidature.")
    etat = appel.etat(now)
    if etat == Appel.Etat.A_VENIR:
        raise ValidationError(
            "Cet appel n'est pas encore ouvert : les candidatures seront possibles à partir du "
            f"{format_datetime_fr(appel.opens_at)}.",
            code="not_open",
        )
    if etat != Appel.Etat.OUVERT:
        raise ValidationError(
            "Cet appel est clos : il n'accepte plus de nouvelle candidature.", code="closed"
        )
    reason = collectivite.ineligibility_reason(appel)
    if reason:
        raise ValidationError(reason, code="ineligible")

    existing = Candidature.objects.filter(appel=appel, collectivite=collectivite).first()
    if existing is not None:
        raise CandidatureExists(existing)
    try:
        with transaction.atomic():
            candidature = Candidature.objects.create(appel=appel, collectivite=collectivite)
    except IntegrityError:
        # Two people of the same collectivité started at the same moment: the other one won.
        existing = Candidature.objects.filter(appel=appel, collectivite=collectivite).first()
        if existing is None:
            raise
        raise CandidatureExists(existing) from None

    AccesCandidature.objects.create(
        candidature=candidature, user=user, role=AccesCandidature.Role.CREATEUR
    )
    Evenement.objects.create(
        candidature=candidature,
        nature=Evenement.Nature.CREATION,
        actor=user,
        statut_apres=Candidature.Statut.BROUILLON,
        detail=collectivite.nom,
    )
    return candidature


@transaction.atomic
def request_access(*, candidature, requester_email, ip=None) -> None:
    """Ask the people of an existing dossier to invite ``requester_email``.

    Raises ``signin.SignInThrottled`` (nothing written or sent) when the requester's address
    or ``ip`` has spent its hourly e-mail budget (``signin.spend_mail_budget``, shared with
    sign-in links). Side effects: one budget row, an Evenement DEMANDE_ACCES (detail = the
    address) and, on commit, one e-mail to ``candidature.referent_emails()`` explaining how
    to invite from the dossier page. The requester gets nothing: neither access nor any of the
    dossier's content.
    """
    from candidatures.connexion.signin import spend_mail_budget

    requester_email = _clean_email(requester_email)
    spend_mail_budget(email=requester_email, ip=ip)
    Evenement.objects.create(
        candidature=candidature, nature=Evenement.Nature.DEMANDE_ACCES, detail=requester_email
    )
    recipients = candidature.referent_emails()
    if not recipients:
        return
    context = {
        "requester_email": requester_email,
        "collectivite": candidature.collectivite.nom,
        "de_collectivite": de_nom(candidature.collectivite.nom),
        "appel_titre": candidature.appel.titre,
        "dossier_url": site_url(candidature.get_absolute_url()),
        "site_url": settings.SITE_URL,
    }
    send_on_commit(
        build_email(
            "demande_acces",
            context,
            to=recipients,
            reply_to=[requester_email],
        )
    )


@transaction.atomic
def invite_coreferent(*, candidature, email, invited_by, ip=None) -> AccesCandidature:
    """Give ``email`` access to the dossier and e-mail them a sign-in link to it.

    Idempotent: inviting the same address again returns the existing access and sends the
    invitation again (the link may have expired). Refuses staff and deactivated accounts, and
    raises ``signin.SignInThrottled`` (nothing written or sent) when the invitee's address or
    ``ip`` has spent its hourly e-mail budget, shared with sign-in links.
    Side effects: one budget row (``signin.spend_mail_budget``), creates the User if the
    address is new (no password), an AccesCandidature (INVITE, invited_by) if missing, an
    Evenement INVITATION, and, on commit, one e-mail to the invitee.
    """
    from candidatures.connexion.signin import (
        build_login_url,
        link_validity_minutes,
        spend_mail_budget,
    )

    email = _clean_email(email)
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is not None and user.is_staff:
        raise ValidationError(
            "Cette adresse est celle d'un compte du Cerdd : elle ne peut pas être invitée sur un "
            "dossier de candidature.",
            code="staff",
        )
    if user is not None and not user.is_active:
        raise ValidationError("Le compte de cette adresse est désactivé.", code="inactive")
    spend_mail_budget(email=email, ip=ip)
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=None)
        except IntegrityError:
            user = User.objects.get(email__iexact=email)

    access, _created = AccesCandidature.objects.get_or_create(
        candidature=candidature,
        user=user,
        defaults={"role": AccesCandidature.Role.INVITE, "invited_by": invited_by},
    )
    Evenement.objects.create(
        candidature=candidature,
        nature=Evenement.Nature.INVITATION,
        actor=invited_by,
        detail=email,
    )
    context = {
        "email": email,
        "inviter_name": invited_by.get_full_name() if invited_by else "",
        "inviter_email": invited_by.email if invited_by else "",
        "collectivite": candidature.collectivite.nom,
        "de_collectivite": de_nom(candidature.collectivite.nom),
        "appel_titre": candidature.appel.titre,
        "deadline": format_datetime_fr(candidature.deadline()),
        "login_url": build_login_url(user, next_url=candidature.get_absolute_url()),
        "minutes": link_validity_minutes(),
        "request_link_url": site_url(reverse("candidatures:connexion")),
        "site_url": settings.SITE_URL,
    }
    send_on_commit(
        build_email(
            "invitation",
            context,
            to=[email],
            reply_to=[invited_by.email] if invited_by else None,
        )
    )
    return access


# ---------------------------------------------------------------------------------------------
# Attachments


@transaction.atomic
def save_answers(*, candidature, answers) -> None:
    """Save a draft's answers to questionnaire questions (``{Question: valeur}``).

    Refuses (ValidationError) a dossier that is not editable or a question of another call.
    Side effects: one Reponse per question created or updated (an empty answer is kept as
    such: the draft shows what was saved); the dossier's updated_at.
    """
    locked = _lock_candidature(candidature)
    if not locked.is_editable():
        raise ValidationError(NOT_EDITABLE, code="not_editable")
    for question, valeur in answers.items():
        if question.etape.appel_id != locked.appel_id:
            raise ValidationError("Cette question n'est pas celle de l'appel du dossier.")
        Reponse.objects.update_or_create(
            candidature=locked, question=question, defaults={"valeur": valeur}
        )
    locked.save(update_fields=["updated_at"])


@transaction.atomic
def add_piece(*, candidature, user, question, uploaded_file) -> PieceJointe:
    """Attach a file answering ``question`` (a file question of the dossier's call) to a draft
    dossier, checked by its content, against the question's formats and size limit and the
    call's limits.

    A question taking one file replaces the previous one. Side effects: creates a PieceJointe
    and stores its file; deletes the replaced file's row, and its file once the transaction
    commits.
    """
    locked = _lock_candidature(candidature)
    if not locked.is_editable():
        raise ValidationError(NOT_EDITABLE, code="not_editable")
    appel = locked.appel
    if not question.est_fichier or question.etape.appel_id != appel.pk:
        raise ValidationError("Cette question n'attend pas de fichier.", code="not_a_file")

    previous = None
    if not question.option("plusieurs"):
        previous = locked.pieces.filter(question=question).first()
    others = locked.pieces.all()
    if previous is not None:
        others = others.exclude(pk=previous.pk)
    used = others.aggregate(total=Sum("taille"))["total"] or 0

    max_bytes = appel.max_file_bytes
    if question.option("taille_max_mo"):
        max_bytes = min(max_bytes, int(question.option("taille_max_mo")) * 1024 * 1024)
    mime = files.validate_upload(
        uploaded_file,
        images_allowed=True,
        allowed=question.mime_types(),
        max_bytes=max_bytes,
        room_bytes=appel.max_dossier_bytes - used,
        dossier_id=locked.pk,
    )
    digest = files.sha256_of(uploaded_file)

    if previous is not None:
        previous.delete()
        files.delete_on_commit(previous.fichier)

    piece = PieceJointe(
        candidature=locked,
        question=question,
        nom_original=files.original_name(uploaded_file.name),
        type_mime=mime,
        taille=uploaded_file.size,
        sha256=digest,
        uploaded_by=user,
    )
    piece.fichier = uploaded_file
    try:
        piece.save()
    except Exception:
        # The file is written before the INSERT: don't leave it behind if the row fails.
        if piece.fichier.name and piece.fichier._committed:
            piece.fichier.storage.delete(piece.fichier.name)
        raise
    return piece


@transaction.atomic
def delete_piece(*, piece, user) -> None:
    """Remove an attachment from a draft dossier.

    Side effects: deletes the PieceJointe row, and its file once the transaction commits.
    """
    locked = _lock_candidature(piece.candidature)
    if not locked.is_editable():
        raise ValidationError(NOT_EDITABLE, code="not_editable")
    piece = PieceJointe.objects.get(pk=piece.pk, candidature=locked)
    piece.delete()
    files.delete_on_commit(piece.fichier)


@transaction.atomic
def grant_extension(*, candidature, until, staff_user, reason) -> None:
    """Let one dossier be changed and submitted after the appel's deadline, until ``until``.

    Staff only (PermissionDenied otherwise); ``until`` must be after the appel's closes_at and a
    reason is required, for the log. Side effects: sets prolongation_jusqu_au and records an
    Evenement PROLONGATION with the staff member as actor. No e-mail.
    """
    if not (staff_user and staff_user.is_active and staff_user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd peut accorder une prolongation.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Indiquez le motif de la prolongation.", code="reason_required")
    if timezone.is_naive(until):
        until = timezone.make_aware(until, PARIS)
    locked = _lock_candidature(candidature)
    if until <= locked.appel.closes_at:
        raise ValidationError(
            "La prolongation doit aller au-delà de la date limite de l'appel "
            f"({format_datetime_fr(locked.appel.closes_at)}).",
            code="too_early",
        )
    locked.prolongation_jusqu_au = until
    locked.save(update_fields=["prolongation_jusqu_au", "updated_at"])
    Evenement.objects.create(
        candidature=locked,
        nature=Evenement.Nature.PROLONGATION,
        actor=staff_user,
        detail=f"jusqu'au {format_datetime_fr(until)} — {reason}",
    )
    _refresh_caller_instance(candidature, locked)
