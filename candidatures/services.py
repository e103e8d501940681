"""Workflows of a candidature that span several models or send mail.

Each function runs in one transaction, takes keyword-only arguments and is the only way its
status change happens; views, admin actions and commands all call these. E-mails are sent with
``transaction.on_commit`` so that nothing is mailed for a change that is rolled back.
"""

import hashlib
import secrets
import zoneinfo
from datetime import datetime
from functools import partial
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from . import files, receipt
from .models import (
    AccesCandidature,
    Affectation,
    Appel,
    Candidature,
    ConflitInteret,
    Depot,
    Evaluation,
    Evenement,
    MembreJury,
    Note,
    PieceJointe,
    Recommandation,
)
from .receipt import de_nom, format_date_fr, format_datetime_fr

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SNAPSHOT_SCHEMA = 1

# The application form of the call, section by section, as frozen in a Depot and printed on the
# receipt: (section title, [(field, label, group)]). Labels are the call's own questions.
FORM_SECTIONS = [
    (
        "Coordonnées",
        [
            ("adresse", "Adresse postale", ""),
            ("code_postal", "Code postal", ""),
            ("ville", "Ville", ""),
            ("telephone", "Téléphone", ""),
            ("email_contact", "E-mail de la collectivité", ""),
        ],
    ),
    (
        "Référent·es",
        [
            ("ref_pol_nom", "Nom et prénom", "Référent·e politique (élu·e)"),
            ("ref_pol_fonction", "Fonction", "Référent·e politique (élu·e)"),
            ("ref_pol_email", "E-mail", "Référent·e politique (élu·e)"),
            ("ref_pol_telephone", "Téléphone", "Référent·e politique (élu·e)"),
            ("ref_tech_nom", "Nom et prénom", "Référent·e technique"),
            ("ref_tech_fonction", "Fonction", "Référent·e technique"),
            ("ref_tech_email", "E-mail", "Référent·e technique"),
            ("ref_tech_telephone", "Téléphone", "Référent·e technique"),
            ("contact_nom", "Nom et prénom", "Point contact technique pour le Cerdd"),
            ("contact_fonction", "Fonction", "Point contact technique pour le Cerdd"),
            ("contact_email", "E-mail", "Point contact technique pour le Cerdd"),
            ("contact_telephone", "Téléphone", "Point contact technique pour le Cerdd"),
        ],
    ),
    (
        "Motivations et projet",
        [
            (
                "motivations",
                "Motivations de la collectivité à s'engager dans ce cycle (parcours, objectifs, "
                "regard sur la participation citoyenne et le développement durable…)",
                "",
            ),
            (
                "actions",
                "Actions déjà réalisées ou prévues dans le domaine de la participation citoyenne "
                "et du développement durable",
                "",
            ),
            (
                "pistes",
                "Pistes de travail envisagées (ou imaginées sans formalisation) sur la dynamique "
                "participative de votre territoire",
                "",
            ),
            (
                "besoins",
                "Principaux besoins identifiés (au sein de votre organisation, à l'échelle du "
                "territoire) sur le sujet de la participation et de la mobilisation citoyenne, "
                "qui pourraient être traités dans ce cycle",
                "",
            ),
        ],
    ),
    (
        "Engagements",
        [
            (
                "engagement_binome",
                "La collectivité garantit la présence d'un binôme élu·e / technicien·ne à chaque "
                "séance du cycle",
                "",
            ),
            (
                "engagement_experimentation",
                "La collectivité s'engage à chercher à expérimenter sur son territoire les outils "
                "et acquis des séances",
                "",
            ),
            (
                "consentement_donnees",
                "La collectivité accepte le traitement des données personnelles du dossier pour "
                "l'instruction de la candidature",
                "",
            ),
        ],
    ),
]

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


class AlreadySubmitted(ValidationError):
    def __init__(self, candidature=None):
        self.candidature = candidature
        super().__init__("Ce dossier est déjà déposé.", code="already_submitted")


class IncompleteCandidature(ValidationError):
    """``messages`` are the French items still missing; ``missing`` keeps their form steps."""

    def __init__(self, missing):
        self.missing = list(missing)
        super().__init__(
            [ValidationError(message, code="missing") for _step, message in self.missing]
        )


# ---------------------------------------------------------------------------------------------
# Helpers


def _site_url(path: str) -> str:
    return settings.SITE_URL + path


def _paris_iso(value: datetime) -> str:
    return timezone.localtime(value, PARIS).isoformat()


def _build_email(name: str, context: dict, *, to, reply_to=None) -> EmailMultiAlternatives:
    """``templates/emails/<name>_subject.txt``, ``_body.txt`` and ``_body.html`` as one message."""
    with translation.override("fr"):
        subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
        text = render_to_string(f"emails/{name}_body.txt", context)
        html = render_to_string(f"emails/{name}_body.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=list(to), reply_to=[r for r in reply_to or [] if r]
    )
    message.attach_alternative(html, "text/html")
    return message


def _send_on_commit(message: EmailMultiAlternatives) -> None:
    # Robust: once the change is committed, a mail server failure is logged, not turned into
    # an error page for a submission that did succeed.
    transaction.on_commit(message.send, robust=True)


def _delete_file_on_commit(field_file) -> None:
    name = field_file.name
    if name:
        transaction.on_commit(partial(field_file.storage.delete, name), robust=True)


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


def _original_name(name: str) -> str:
    # Browsers may send a full client path (with either separator); keep the file name only.
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(char for char in base if char.isprintable()) or "document"
    if len(base) > 200:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: 200 - len(suffix)] + suffix
    return base


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
def request_access(*, candidature, requester_email) -> None:
    """Ask the people of an existing dossier to invite ``requester_email``.

    Side effects: an Evenement DEMANDE_ACCES (detail = the address) and, on commit, one e-mail
    to ``candidature.referent_emails()`` explaining how to invite from the dossier page. The
    requester gets nothing: neither access nor any of the dossier's content.
    """
    requester_email = _clean_email(requester_email)
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
        "dossier_url": _site_url(candidature.get_absolute_url()),
        "site_url": settings.SITE_URL,
    }
    _send_on_commit(
        _build_email(
            "demande_acces",
            context,
            to=recipients,
            reply_to=[requester_email],
        )
    )


@transaction.atomic
def invite_coreferent(*, candidature, email, invited_by) -> AccesCandidature:
    """Give ``email`` access to the dossier and e-mail them a sign-in link to it.

    Idempotent: inviting the same address again returns the existing access and sends the
    invitation again (the link may have expired). Refuses staff and deactivated accounts.
    Side effects: creates the User if the address is new (no password), an AccesCandidature
    (INVITE, invited_by) if missing, an Evenement INVITATION, and, on commit, one e-mail to the
    invitee.
    """
    from .signin import build_login_url, link_validity_minutes

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
        "request_link_url": _site_url(reverse("candidatures:connexion")),
        "site_url": settings.SITE_URL,
    }
    _send_on_commit(
        _build_email(
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
def add_piece(*, candidature, user, nature, uploaded_file) -> PieceJointe:
    """Attach a file to a draft dossier, checked by its content and against the size limits.

    Images are accepted for supporting documents only. A new motivation letter replaces the
    previous one. Side effects: creates a PieceJointe and stores its file; deletes the replaced
    letter's row, and its file once the transaction commits.
    """
    locked = _lock_candidature(candidature)
    if not locked.is_editable():
        raise ValidationError(NOT_EDITABLE, code="not_editable")
    appel = locked.appel

    previous_letter = None
    if nature == PieceJointe.Nature.LETTRE_MOTIVATION:
        previous_letter = locked.pieces.filter(nature=nature).first()
    others = locked.pieces.all()
    if previous_letter is not None:
        others = others.exclude(pk=previous_letter.pk)
    used = others.aggregate(total=Sum("taille"))["total"] or 0

    mime = files.validate_upload(
        uploaded_file,
        images_allowed=(nature == PieceJointe.Nature.COMPLEMENTAIRE),
        max_bytes=appel.max_file_bytes,
        room_bytes=appel.max_dossier_bytes - used,
    )
    digest = files.sha256_of(uploaded_file)

    if previous_letter is not None:
        # One letter per dossier (a DB constraint): the old row goes before the new one comes.
        previous_letter.delete()
        _delete_file_on_commit(previous_letter.fichier)

    piece = PieceJointe(
        candidature=locked,
        nature=nature,
        nom_original=_original_name(uploaded_file.name),
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
    _delete_file_on_commit(piece.fichier)


# ---------------------------------------------------------------------------------------------
# Submission


def _deadline_passed_message(deadline: datetime) -> str:
    return (
        f"La date limite de dépôt ({format_datetime_fr(deadline)} Paris) est dépassée : "
        "le dossier ne peut plus être déposé."
    )


def _next_numero(appel) -> str:
    numbers = [0]
    for numero in (
        Candidature.objects.filter(appel=appel).exclude(numero="").values_list("numero", flat=True)
    ):
        suffix = numero.rsplit("-", 1)[-1]
        if suffix.isdigit():
            numbers.append(int(suffix))
    return f"{appel.prefixe_numero}-{max(numbers) + 1:03d}"


def _answer_value(candidature, field) -> str:
    value = getattr(candidature, field)
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    return str(value or "")


def build_snapshot(*, candidature, version, submitted_at, submitted_by) -> dict:
    """The frozen JSON copy of a dossier stored in ``Depot.contenu`` (and printed on the receipt).

    Plain JSON types only: French labels beside every answer, so the copy reads on its own
    even if the form changes in a later edition.
    """
    collectivite = candidature.collectivite
    appel = candidature.appel
    sections = []
    for title, fields in FORM_SECTIONS:
        answers = [
            {
                "champ": field,
                "groupe": group,
                "libelle": label,
                "valeur": _answer_value(candidature, field),
            }
            for field, label, group in fields
        ]
        sections.append({"titre": title, "reponses": answers})
    pieces = [
        {
            "id": piece.pk,
            "nature": piece.nature,
            "nature_libelle": piece.get_nature_display(),
            "nom": piece.nom_original,
            "type": piece.type_mime,
            "taille": piece.taille,
            "sha256": piece.sha256,
        }
        for piece in candidature.pieces.order_by("nature", "uploaded_at", "pk")
    ]
    return {
        "schema": SNAPSHOT_SCHEMA,
        "numero": candidature.numero,
        "version": version,
        "submitted_at": _paris_iso(submitted_at),
        "submitted_by": {
            "email": submitted_by.email if submitted_by else "",
            "nom": (submitted_by.get_full_name() or submitted_by.email) if submitted_by else "",
        },
        "appel": {
            "titre": appel.titre,
            "slug": appel.slug,
            "closes_at": _paris_iso(appel.closes_at),
            "deadline": _paris_iso(candidature.deadline()),
            "announcement_at": _paris_iso(appel.announcement_at),
        },
        "collectivite": {
            "nom": collectivite.nom,
            "nature": collectivite.nature,
            "nature_libelle": (
                collectivite.get_type_epci_display()
                if collectivite.type_epci
                else collectivite.get_nature_display()
            ),
            "type_epci": collectivite.type_epci,
            "insee": collectivite.insee,
            "siren": collectivite.siren,
            "departement": collectivite.departement,
        },
        "sections": sections,
        "pieces": pieces,
    }


@transaction.atomic
def submit_candidature(*, candidature, user, now=None) -> Depot:
    """Submit a complete dossier before its deadline, as decided on the server.

    Raises ``AlreadySubmitted`` for a dossier already déposé (a double click submits once),
    ValidationError past the deadline (extension included) and ``IncompleteCandidature`` with
    the missing items. Side effects: on first submission, a numero « PRÉFIXE-00n » (next in the
    appel, under its row lock); statut DEPOSEE and deposee_at; a Depot (next version) with the
    frozen ``contenu`` and its receipt PDF (stored under ``recus/<appel>/``); an Evenement
    DEPOT; on commit, one e-mail with the receipt attached to ``referent_emails()``.
    """
    now = now or timezone.now()
    # The appel row first, then the dossier, always in this order: numbering is serialised per
    # appel, and a double click waits here then sees DEPOSEE.
    appel = Appel.objects.select_for_update().get(pk=candidature.appel_id)
    locked = _lock_candidature(candidature)
    locked.appel = appel

    if locked.statut == Candidature.Statut.DEPOSEE:
        raise AlreadySubmitted(locked)
    if now < appel.opens_at:
        raise ValidationError(
            "Cet appel n'est pas encore ouvert : le dossier ne peut pas encore être déposé.",
            code="not_open",
        )
    if not locked.accepts_changes(now):
        raise ValidationError(_deadline_passed_message(locked.deadline()), code="deadline")
    missing = locked.missing_items()
    if missing:
        raise IncompleteCandidature(missing)

    if not locked.numero:
        locked.numero = _next_numero(appel)
    statut_avant = locked.statut
    locked.statut = Candidature.Statut.DEPOSEE
    locked.deposee_at = now
    locked.save(update_fields=["numero", "statut", "deposee_at", "updated_at"])

    version = (locked.depots.aggregate(last=Max("version"))["last"] or 0) + 1
    depot = Depot(
        candidature=locked,
        version=version,
        submitted_at=now,
        submitted_by=user,
        contenu=build_snapshot(
            candidature=locked, version=version, submitted_at=now, submitted_by=user
        ),
    )
    pdf = receipt.render_receipt_pdf(depot)
    token = secrets.token_urlsafe(12)
    depot.recu.save(
        f"{appel.slug}/{locked.numero}-v{version}-{token}.pdf", ContentFile(pdf), save=False
    )
    depot.recu_sha256 = hashlib.sha256(pdf).hexdigest()
    try:
        depot.save()
    except Exception:
        depot.recu.storage.delete(depot.recu.name)
        raise

    detail = f"Dépôt n° {locked.numero}"
    if version > 1:
        detail += f" (version {version})"
    Evenement.objects.create(
        candidature=locked,
        nature=Evenement.Nature.DEPOT,
        at=now,
        actor=user,
        statut_avant=statut_avant,
        statut_apres=Candidature.Statut.DEPOSEE,
        detail=detail,
    )
    _refresh_caller_instance(candidature, locked)

    recipients = locked.referent_emails()
    if recipients:
        message = _build_email(
            "depot",
            _depot_email_context(locked, depot),
            to=recipients,
            reply_to=[appel.contact_email],
        )
        message.attach(
            f"accuse-de-reception-{locked.numero}-v{version}.pdf", pdf, "application/pdf"
        )
        _send_on_commit(message)
    return depot


def _depot_email_context(candidature, depot) -> dict:
    appel = candidature.appel
    return {
        "numero": candidature.numero,
        "version": depot.version,
        "collectivite": candidature.collectivite.nom,
        "de_collectivite": de_nom(candidature.collectivite.nom),
        "appel_titre": appel.titre,
        "submitted_at": format_datetime_fr(depot.submitted_at),
        "submitted_by": depot.contenu["submitted_by"]["nom"],
        "deadline": format_datetime_fr(candidature.deadline()),
        "announcement": format_date_fr(appel.announcement_at),
        "first_session": format_date_fr(appel.first_session_date)
        if appel.first_session_date
        else "",
        "first_session_place": appel.first_session_place,
        "dossier_url": _site_url(candidature.get_absolute_url()),
        "contact_nom": appel.contact_nom,
        "contact_fonction": appel.contact_fonction,
        "contact_email": appel.contact_email,
        "site_url": settings.SITE_URL,
    }


@transaction.atomic
def reopen_candidature(*, candidature, user, now=None) -> None:
    """Turn a submitted dossier back into a draft, only before its deadline.

    The numero is kept; submitting again makes a new Depot version with a new receipt. Side
    effects: statut BROUILLON (deposee_at cleared), an Evenement REOUVERTURE. No e-mail.
    """
    now = now or timezone.now()
    locked = _lock_candidature(candidature)
    if locked.statut != Candidature.Statut.DEPOSEE:
        raise ValidationError(
            "Ce dossier n'est pas déposé : il est déjà modifiable.", code="not_submitted"
        )
    if not locked.accepts_changes(now):
        raise ValidationError(
            "Après la date limite, le dossier ne peut plus être rouvert.", code="deadline"
        )
    locked.statut = Candidature.Statut.BROUILLON
    locked.deposee_at = None
    locked.save(update_fields=["statut", "deposee_at", "updated_at"])
    Evenement.objects.create(
        candidature=locked,
        nature=Evenement.Nature.REOUVERTURE,
        at=now,
        actor=user,
        statut_avant=Candidature.Statut.DEPOSEE,
        statut_apres=Candidature.Statut.BROUILLON,
        detail=f"Dossier n° {locked.numero} rouvert",
    )
    _refresh_caller_instance(candidature, locked)


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


# ---------------------------------------------------------------------------------------------
# Jury


class NotAllowedToScore(ValidationError):
    """The juror may not see this dossier (not assigned, in conflict, draft, other call)."""

    def __init__(self):
        super().__init__("Vous ne pouvez pas évaluer ce dossier.", code="not_allowed")


def _related_pairs(appel):
    """(candidature, juror, reason) for every detected tie between a juror and a dossier."""
    members = list(
        MembreJury.objects.filter(appel=appel, collectivite__isnull=False).select_related(
            "collectivite", "user"
        )
    )
    dossiers = list(appel.candidatures.deposees().select_related("collectivite"))
    for member in members:
        own = member.collectivite
        for dossier in dossiers:
            theirs = dossier.collectivite
            if theirs.pk == own.pk:
                reason = f"{member.user} est rattaché·e à {own.nom}, la collectivité candidate."
            elif theirs.epci_id == own.pk:
                reason = f"{member.user} est rattaché·e à {own.nom}, l'EPCI {de_nom(theirs.nom)}."
            elif own.epci_id and theirs.pk == own.epci_id:
                reason = (
                    f"{member.user} est rattaché·e à {own.nom}, commune membre de {theirs.nom}."
                )
            else:
                continue
            yield dossier, member.user, reason


@transaction.atomic
def refresh_conflicts(*, appel) -> int:
    """Record the conflicts detected between the call's jurors and its submitted dossiers.

    Side effects: creates ConflitInteret rows (origine « détecté ») for ties not yet in the
    register; never deletes one. Returns how many were created.
    """
    created = 0
    for dossier, user, reason in _related_pairs(appel):
        _, was_created = ConflitInteret.objects.get_or_create(
            candidature=dossier,
            jure=user,
            defaults={"origine": ConflitInteret.Origine.DETECTE, "motif": reason},
        )
        created += was_created
    return created


@transaction.atomic
def declare_conflict(*, candidature, jure, motif) -> ConflitInteret:
    """« Je me déporte »: the juror withdraws from a dossier they may currently see.

    Side effects: creates a ConflitInteret (origine « déclaré »); the dossier disappears from
    the juror's list and any évaluation they wrote leaves every aggregate (kept for the audit).
    """
    motif = (motif or "").strip()
    if not motif:
        raise ValidationError("Indiquez la raison pour laquelle vous vous déportez.")
    if not Candidature.objects.for_juror(jure).filter(pk=candidature.pk).exists():
        raise NotAllowedToScore()
    conflict, _ = ConflitInteret.objects.get_or_create(
        candidature=candidature,
        jure=jure,
        defaults={"origine": ConflitInteret.Origine.DECLARE, "motif": motif},
    )
    return conflict


@transaction.atomic
def assign_jurors(*, candidature, jures, staff_user) -> list[Affectation]:
    """Give a dossier to the chosen jurors (manual assignment); refuses jurors in conflict.

    Side effects: creates the missing Affectation rows; removes none.
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    conflicted = set(
        ConflitInteret.objects.filter(candidature=candidature).values_list("jure", flat=True)
    )
    conflicted |= {
        user.pk
        for dossier, user, _ in _related_pairs(candidature.appel)
        if dossier.pk == candidature.pk
    }
    refused = [str(jure) for jure in jures if jure.pk in conflicted]
    if refused:
        raise ValidationError(
            "En conflit d'intérêts avec ce dossier : %(names)s.",
            params={"names": ", ".join(refused)},
        )
    return [
        Affectation.objects.get_or_create(candidature=candidature, jure=jure)[0] for jure in jures
    ]


@transaction.atomic
def assign_automatically(*, appel, staff_user, per_dossier=None) -> dict:
    """Balanced assignment: each submitted dossier gets ``per_dossier`` jurors (default: the
    call's setting), the least loaded first, never one in conflict.

    Side effects: records detected conflicts, creates Affectation rows (keeps existing ones).
    Returns {"created": n, "short": [dossiers that could not get enough jurors]}.
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    refresh_conflicts(appel=appel)
    per_dossier = per_dossier or appel.jures_par_dossier
    jurors = [member.user for member in appel.membres_jury.select_related("user")]
    load = {juror.pk: 0 for juror in jurors}
    existing = {}
    for candidature_id, jure_id in Affectation.objects.filter(candidature__appel=appel).values_list(
        "candidature", "jure"
    ):
        existing.setdefault(candidature_id, set()).add(jure_id)
        if jure_id in load:
            load[jure_id] += 1
    conflicts = {}
    for candidature_id, jure_id in ConflitInteret.objects.filter(
        candidature__appel=appel
    ).values_list("candidature", "jure"):
        conflicts.setdefault(candidature_id, set()).add(jure_id)
    created, short = 0, []
    dossiers = sorted(
        appel.candidatures.deposees().select_related("collectivite"),
        key=lambda d: (len(existing.get(d.pk, ())), d.numero),
    )
    for dossier in dossiers:
        have = existing.setdefault(dossier.pk, set())
        excluded = have | conflicts.get(dossier.pk, set())
        candidates = sorted(
            (juror for juror in jurors if juror.pk not in excluded),
            key=lambda juror: (load[juror.pk], juror.pk),
        )
        for juror in candidates[: max(per_dossier - len(have), 0)]:
            Affectation.objects.create(candidature=dossier, jure=juror)
            have.add(juror.pk)
            load[juror.pk] += 1
            created += 1
        if len(have) < per_dossier:
            short.append(dossier)
    return {"created": created, "short": short}


def _check_score(critere, value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= critere.note_max:
        raise ValidationError(
            "« %(critere)s » : la note doit être un nombre entier de 0 à %(max)s.",
            params={"critere": critere.libelle, "max": critere.note_max},
        )
    return number


@transaction.atomic
def save_evaluation(
    *,
    candidature,
    jure,
    notes: dict,
    commentaire_prive="",
    retour_collectivite="",
    recommandation="",
    submit=False,
    now=None,
) -> Evaluation:
    """Save a juror's évaluation of one dossier, as a draft or submitted.

    ``notes`` maps each Critere to (value or None, comment). Side effects: creates or updates
    the Evaluation and its Notes (history kept by django-simple-history); on submit, stamps
    ``submitted_at``. Refused: a dossier the juror may not see, a closed scoring phase, a
    score outside the critère's scale, and on submit any missing score or recommendation.
    """
    now = now or timezone.now()
    if not Candidature.objects.for_juror(jure).filter(pk=candidature.pk).exists():
        raise NotAllowedToScore()
    appel = candidature.appel
    if not appel.scoring_is_open(now):
        raise ValidationError("La notation est close : les évaluations ne peuvent plus changer.")
    criteres = list(appel.criteres.all())
    errors, cleaned = [], {}
    for critere in criteres:
        value, comment = notes.get(critere, (None, ""))
        try:
            cleaned[critere] = (_check_score(critere, value), (comment or "").strip())
        except ValidationError as error:
            errors.extend(error.messages)
    if recommandation and recommandation not in Recommandation.values:
        errors.append("Choisissez une recommandation dans la liste.")
    if submit:
        missing = [c.libelle for c in criteres if cleaned.get(c, (None,))[0] is None]
        if missing:
            errors.append("Notez chaque critère avant de soumettre : " + ", ".join(missing) + ".")
        if not recommandation:
            errors.append("Choisissez une recommandation avant de soumettre.")
    if errors:
        raise ValidationError(errors)
    # One history row per save: get_or_create would add a bare "created" row first.
    evaluation = Evaluation.objects.select_for_update().filter(
        candidature=candidature, jure=jure
    ).first() or Evaluation(candidature=candidature, jure=jure)
    evaluation.commentaire_prive = commentaire_prive.strip()
    evaluation.retour_collectivite = retour_collectivite.strip()
    evaluation.recommandation = recommandation
    if submit:
        evaluation.statut = Evaluation.Statut.SOUMISE
        evaluation.submitted_at = evaluation.submitted_at or now
    evaluation.save()
    for critere, (value, comment) in cleaned.items():
        Note.objects.update_or_create(
            evaluation=evaluation,
            critere=critere,
            defaults={"valeur": value, "commentaire": comment},
        )
    return evaluation


@transaction.atomic
def close_scoring(*, appel, staff_user, now=None) -> None:
    """End the scoring phase: évaluations become read-only. Side effect: stamps the call."""
    if not staff_user.is_staff:
        raise PermissionDenied
    Appel.objects.filter(pk=appel.pk, notation_close_at__isnull=True).update(
        notation_close_at=now or timezone.now()
    )
    appel.refresh_from_db(fields=["notation_close_at"])


@transaction.atomic
def reopen_scoring(*, appel, staff_user) -> None:
    """Let jurors change their évaluations again. Side effect: clears the closing stamp."""
    if not staff_user.is_staff:
        raise PermissionDenied
    Appel.objects.filter(pk=appel.pk).update(notation_close_at=None)
    appel.refresh_from_db(fields=["notation_close_at"])


@transaction.atomic
def open_deliberation(*, appel, staff_user, now=None) -> None:
    """From now on jurors see each other's évaluations and the aggregates.

    Side effect: stamps ``deliberation_ouverte_at`` (once).
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    Appel.objects.filter(pk=appel.pk, deliberation_ouverte_at__isnull=True).update(
        deliberation_ouverte_at=now or timezone.now()
    )
    appel.refresh_from_db(fields=["deliberation_ouverte_at"])


def jurors_with_work_left(appel) -> list[tuple]:
    """(juror, dossiers still to submit) for every juror of the call with work left."""
    result = []
    for member in appel.membres_jury.select_related("user"):
        visible = Candidature.objects.for_juror(member.user).filter(appel=appel)
        done = Evaluation.objects.filter(
            jure=member.user, candidature__in=visible, statut=Evaluation.Statut.SOUMISE
        ).count()
        left = visible.count() - done
        if left > 0:
            result.append((member.user, left))
    return result


@transaction.atomic
def send_jury_reminders(*, appel, staff_user) -> int:
    """E-mail each juror who still has dossiers to score. Returns how many were reminded.

    Side effects: one e-mail per juror with work left, sent after commit.
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    reminded = 0
    for juror, left in jurors_with_work_left(appel):
        context = {
            "juror": juror,
            "appel": appel,
            "left": left,
            "url": _site_url(reverse("admin:candidatures_dossierjury_changelist")),
            "closes": appel.notation_close_at,
        }
        _send_on_commit(_build_email("rappel_jury", context, to=[juror.email]))
        reminded += 1
    return reminded
