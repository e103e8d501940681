"""Workflows of a candidature that span several models or send mail.

Each function runs in one transaction (``submit_candidature``: two, see why there), takes
keyword-only arguments and is the only way its status change happens; views, admin actions and
commands all call these. E-mails are sent with ``transaction.on_commit`` so that nothing is
mailed for a change that is rolled back.
"""

import hashlib
import logging
import secrets
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from cerdd_ami import files
from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import de_nom, format_date_fr, format_datetime_fr, paris

from . import receipt
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

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SNAPSHOT_SCHEMA = 1

logger = logging.getLogger(__name__)

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


def _paris_iso(value: datetime) -> str:
    return timezone.localtime(value, PARIS).isoformat()


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
    from .signin import spend_mail_budget

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
    from .signin import build_login_url, link_validity_minutes, spend_mail_budget

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
        dossier_id=locked.pk,
    )
    digest = files.sha256_of(uploaded_file)

    if previous_letter is not None:
        # One letter per dossier (a DB constraint): the old row goes before the new one comes.
        previous_letter.delete()
        files.delete_on_commit(previous_letter.fichier)

    piece = PieceJointe(
        candidature=locked,
        nature=nature,
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


# ---------------------------------------------------------------------------------------------
# Submission


def _deadline_passed_message(deadline: datetime) -> str:
    return (
        f"La date limite de dépôt ({format_datetime_fr(deadline)} Paris) est dépassée : "
        "le dossier ne peut plus être déposé."
    )


def _next_numero(appel) -> str:
    """Take the next numero of ``appel`` from its counter.

    One UPDATE of the appel row: the row stays locked until the caller's transaction ends,
    so two submissions never get the same number, and a rolled-back one gives its number back.
    """
    Appel.objects.filter(pk=appel.pk).update(dernier_numero=F("dernier_numero") + 1)
    appel.dernier_numero = Appel.objects.values_list("dernier_numero", flat=True).get(pk=appel.pk)
    return f"{appel.prefixe_numero}-{appel.dernier_numero:03d}"


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


def submit_candidature(*, candidature, user, now=None) -> Depot:
    """Submit a complete dossier before its deadline, as decided on the server.

    Raises ``AlreadySubmitted`` for a dossier already déposé (a double click submits once),
    ValidationError before the opening or past the deadline (extension included) and
    ``IncompleteCandidature`` with the missing items.

    Two phases, so that the appel's row lock lasts milliseconds: submissions of the whole call
    are no longer serialised behind the rendering of a receipt (a quarter of a second each).

    1. One short transaction, under the appel's then the dossier's row lock. Side effects: on
       first submission, a numero « PRÉFIXE-00n » from the appel's counter
       (``Appel.dernier_numero``); statut DEPOSEE and deposee_at; a Depot (next version) with
       the frozen ``contenu`` and no receipt yet; an Evenement DEPOT. Committed when it returns
       (unless the caller holds a transaction of its own).
    2. ``issue_receipt``: the receipt PDF, stored on the Depot and mailed to the référent·es.
       If it fails, the error is logged and the Depot is returned all the same: the deposit is
       recorded, and ``manage.py emettre_recus`` issues the missing receipt later.
    """
    depot = _record_submission(candidature=candidature, user=user, now=now or timezone.now())
    try:
        issue_receipt(depot=depot)
    except Exception:
        logger.exception(
            "Accusé de réception du dépôt %s (dossier %s) non émis : il le sera par "
            "« manage.py emettre_recus »",
            depot.pk,
            depot.candidature.numero,
        )
    return depot


@transaction.atomic
def _record_submission(*, candidature, user, now) -> Depot:
    # The appel row first, then the dossier, always in this order (the other services lock the
    # appel first too): a double click waits here, then sees DEPOSEE.
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
    depot = Depot.objects.create(
        candidature=locked,
        version=version,
        submitted_at=now,
        submitted_by=user,
        contenu=build_snapshot(
            candidature=locked, version=version, submitted_at=now, submitted_by=user
        ),
    )

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
    return depot


def issue_receipt(*, depot, now=None) -> None:
    """File the receipt of ``depot`` (``file_receipt``) and mail it once committed.

    Side effects: those of ``file_receipt``; on commit, ``send_receipt`` (robust: a mail server
    failure is logged, not turned into an error page for a deposit that did succeed, and
    ``recu_envoye_at`` stays empty for emettre_recus). Rendering or storage errors propagate.
    """
    file_receipt(depot=depot)
    if depot.recu_envoye_at is None:
        transaction.on_commit(
            lambda: send_receipt(depot_id=depot.pk, now=now or timezone.now()), robust=True
        )


def file_receipt(*, depot) -> None:
    """Render and store the receipt of ``depot`` if it has none yet.

    The PDF comes from ``depot.contenu`` alone, so a receipt issued late still shows exactly
    what was submitted. Rendering happens outside any lock; then, in a short transaction under
    the Depot's row lock, a receipt filed meanwhile by someone else (the request and
    ``emettre_recus`` at once) wins. Side effects: the PDF stored under
    ``recus/<appel>/<numero>-v<version>-<random>.pdf``; ``recu`` and ``recu_sha256`` saved
    (and set on the caller's ``depot``). Rendering or storage errors propagate.
    """
    if depot.recu:
        return
    pdf = receipt.render_receipt_pdf(depot)
    with transaction.atomic():
        locked = (
            Depot.objects.select_for_update(of=("self",))
            .select_related("candidature__appel")
            .get(pk=depot.pk)
        )
        if not locked.recu:
            candidature = locked.candidature
            token = secrets.token_urlsafe(12)
            locked.recu.save(
                f"{candidature.appel.slug}/{candidature.numero}-v{locked.version}-{token}.pdf",
                ContentFile(pdf),
                save=False,
            )
            locked.recu_sha256 = hashlib.sha256(pdf).hexdigest()
            try:
                locked.save(update_fields=["recu", "recu_sha256"])
            except Exception:
                locked.recu.storage.delete(locked.recu.name)
                raise
        depot.recu, depot.recu_sha256 = locked.recu.name, locked.recu_sha256


def send_receipt(*, depot_id, now) -> bool:
    """Mail the filed receipt of a Depot to the référent·es unless it already left.

    Side effects, in one transaction under the Depot's row lock (a concurrent sender skips
    it): the e-mail with the stored PDF attached, then ``recu_envoye_at`` = ``now``. Returns
    whether this call sent it. A mail server error propagates and leaves it unsent.
    """
    with transaction.atomic():
        locked = (
            Depot.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("candidature__appel", "candidature__collectivite")
            .filter(pk=depot_id, recu_envoye_at__isnull=True)
            .exclude(recu="")
            .first()
        )
        if locked is None:
            return False
        candidature = locked.candidature
        recipients = candidature.referent_emails()
        if recipients:
            message = build_email(
                "depot",
                _depot_email_context(candidature, locked),
                to=recipients,
                reply_to=[candidature.appel.contact_email],
            )
            with locked.recu.open("rb") as handle:
                message.attach(
                    f"accuse-de-reception-{candidature.numero}-v{locked.version}.pdf",
                    handle.read(),
                    "application/pdf",
                )
            message.send()
        locked.recu_envoye_at = now
        locked.save(update_fields=["recu_envoye_at"])
    return True


# A deposit's own request renders its receipt right after the commit: leave it that long
# before a run of ``emettre_recus`` renders the same PDF a second time.
RECEIPT_GRACE = timedelta(minutes=5)


def missing_receipts(*, now=None):
    """Depots without receipt, or whose receipt was not mailed, once their own request has had
    time to issue it."""
    now = now or timezone.now()
    return Depot.objects.filter(
        Q(recu="") | Q(recu_envoye_at__isnull=True), submitted_at__lte=now - RECEIPT_GRACE
    )


def issue_missing_receipts(*, now=None) -> int:
    """File and mail the receipt of every Depot of ``missing_receipts`` (``file_receipt`` then
    ``send_receipt`` each); the count issued.

    One failure is logged and does not stop the others: they are retried at the next run.
    """
    issued = 0
    now = now or timezone.now()
    for depot in missing_receipts(now=now).order_by("submitted_at", "pk"):
        try:
            file_receipt(depot=depot)
            send_receipt(depot_id=depot.pk, now=now)
        except Exception:
            logger.exception("Accusé de réception du dépôt %s non émis", depot.pk)
        else:
            issued += 1
    return issued


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
        "dossier_url": site_url(candidature.get_absolute_url()),
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


def related_pairs(appel):
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
    for dossier, user, reason in related_pairs(appel):
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
        for dossier, user, _ in related_pairs(candidature.appel)
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
    appel = candidature.appel
    # Before the deadline no juror sees any dossier (for_juror): say why, the call's
    # calendar is public.
    if now <= appel.closes_at:
        raise ValidationError(
            "La notation n'a pas commencé : elle s'ouvre après la date limite de dépôt."
        )
    if not Candidature.objects.for_juror(jure).filter(pk=candidature.pk).exists():
        raise NotAllowedToScore()
    if not appel.scoring_is_open(now):
        raise ValidationError("La notation est close : les évaluations ne peuvent plus changer.")
    # A submitted évaluation stays submitted: any later save must keep it complete.
    submit = (
        submit
        or Evaluation.objects.filter(
            candidature=candidature, jure=jure, statut=Evaluation.Statut.SOUMISE
        ).exists()
    )
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
    """Let jurors change their évaluations again. Side effect: clears the closing stamp.

    Refused once the deliberation is open: jurors have read each other's évaluations.
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    appel.refresh_from_db(fields=["deliberation_ouverte_at"])
    if appel.deliberation_ouverte_at is not None:
        raise ValidationError(
            "La délibération est ouverte : les juré·es ont lu les évaluations de leurs "
            "collègues, la notation ne peut plus être rouverte.",
            code="deliberation_open",
        )
    Appel.objects.filter(pk=appel.pk).update(notation_close_at=None)
    appel.refresh_from_db(fields=["notation_close_at"])


@transaction.atomic
def open_deliberation(*, appel, staff_user, now=None) -> None:
    """From now on jurors see each other's évaluations and the aggregates.

    Side effect: stamps ``deliberation_ouverte_at`` (once).
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    appel.refresh_from_db(fields=["notation_close_at"])
    if appel.notation_close_at is None:
        # Otherwise a juror who has not scored yet would read colleagues' évaluations first.
        raise ValidationError(
            "Clôturez d'abord la notation : tant qu'elle est ouverte, un·e juré·e pourrait lire "
            "les évaluations de ses collègues avant de rendre la sienne.",
            code="scoring_open",
        )
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

    Side effects: one e-mail per juror with work left, sent after commit. Refused while
    jurors cannot score (before the deadline, after the scoring is closed).
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    if not appel.scoring_is_open():
        raise ValidationError(
            "La notation n'est pas ouverte : aucun rappel n'est envoyé aux juré·es.",
            code="scoring_not_open",
        )
    reminded = 0
    for juror, left in jurors_with_work_left(appel):
        context = {
            "juror": juror,
            "appel": appel,
            "left": left,
            "url": site_url(reverse("admin:candidatures_dossierjury_changelist")),
            "closes": appel.notation_close_at,
        }
        send_on_commit(build_email("rappel_jury", context, to=[juror.email]))
        reminded += 1
    return reminded


# ---------------------------------------------------------------------------------------------
# Décisions
#
# A decision is staged by staff (decide), then published from the call's announcement date
# (publish_decisions): letters are rendered and filed, and each référent·e is e-mailed theirs.
# After publication a decision changes only through the waiting-list workflow
# (record_withdrawal, promote_next). E-mails of letters are not sent on commit like the others:
# each one is recorded in an EnvoiCourrier (statut, tentatives, erreur) so that a failure is
# retried by the next run instead of being lost in a log.

import dataclasses  # noqa: E402

from django.db.models import Exists, OuterRef  # noqa: E402
from django.template import Context, Template, TemplateSyntaxError  # noqa: E402

from . import letters  # noqa: E402
from .models import Courrier, Decision, EnvoiCourrier, Issue, ModeleCourrier  # noqa: E402

HISTORY_REASON_LENGTH = 100  # HistoricalDecision.history_change_reason

# The letters already say the outcome, the number of places and what the waiting list means:
# a motivation says only why.
DEFAULT_MOTIVATIONS = {
    Issue.RETENUE: (
        "Le jury a apprécié la qualité de votre candidature : la motivation de la collectivité, "
        "les actions déjà engagées et les pistes de travail envisagées répondent pleinement aux "
        "attentes du cycle de qualification."
    ),
    Issue.LISTE_ATTENTE: (
        "Le jury a apprécié votre candidature, solide, même si la dynamique engagée est un peu "
        "moins avancée que celle des collectivités retenues."
    ),
    Issue.NON_RETENUE: (
        "Le jury a retenu les candidatures dont la dynamique participative et de transition "
        "répondait le mieux aux critères de l'appel."
    ),
}
PROMOTION_MOTIVATION = (
    "Une collectivité retenue s'étant désistée, une place s'est libérée dans le cycle : votre "
    "candidature, première sur la liste d'attente, est désormais retenue."
)
PUBLISHED_DECISION_LOCKED = (
    "Cette décision est publiée : elle ne peut plus être modifiée. Après la publication, seuls "
    "un désistement et l'appel du suivant de la liste d'attente changent les décisions."
)


def default_motivation(issue, appel) -> str:
    """The motivation offered to staff for ``issue``, with the call's number of places."""
    return DEFAULT_MOTIVATIONS[Issue(issue)].format(places=appel.places)


def _require_staff(user) -> None:
    if not (user and user.is_active and user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd peut décider des candidatures.")


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count <= 1 else (plural or singular + 's')}"


def _publication_opens_message(appel) -> str:
    return (
        "Les décisions ne peuvent être publiées qu'à partir du "
        f"{format_datetime_fr(appel.announcement_at)} (heure de Paris)."
    )


def check_decision(*, candidature, issue, motivation="", rang_attente=None) -> None:
    """What ``decide`` refuses before touching anything, for forms to show next to the field.

    Raises a ValidationError whose ``error_dict`` names the field at fault.
    """
    if candidature.statut != Candidature.Statut.DEPOSEE:
        raise ValidationError({"candidature": "Seul un dossier déposé peut recevoir une décision."})
    if issue not in Issue.values:
        raise ValidationError({"issue": "Choisissez une décision dans la liste."})
    if issue != Issue.RETENUE and not (motivation or "").strip():
        raise ValidationError(
            {
                "motivation": "Indiquez la motivation : elle figure dans le courrier "
                f"« {Issue(issue).label.lower()} »."
            }
        )
    if rang_attente is not None:
        if issue != Issue.LISTE_ATTENTE:
            raise ValidationError(
                {"rang_attente": "Le rang ne s'applique qu'à une décision « liste d'attente »."}
            )
        if rang_attente < 1:
            raise ValidationError({"rang_attente": "Le rang commence à 1."})


def jury_feedback(candidature) -> list[str]:
    """The jurors' « retour pour la collectivité » staff may quote in the letter: those of the
    évaluations the ranking counts (submitted, by a juror who may still score the dossier:
    no conflict, registered or detected, still in the jury, still assigned), without
    duplicates, in jurors' name order."""
    evaluations = (
        Evaluation.objects.counted()
        .filter(candidature=candidature)
        .exclude(retour_collectivite="")
        .select_related("jure")
        .order_by("jure__last_name", "jure__first_name", "jure__email")
    )
    # for_juror is the one rule of who may score what; a handful of jurors per dossier.
    texts = [
        evaluation.retour_collectivite.strip()
        for evaluation in evaluations
        if Candidature.objects.for_juror(evaluation.jure).filter(pk=candidature.pk).exists()
    ]
    return list(dict.fromkeys(text for text in texts if text))


def _waiting_list(appel, *, exclude=None) -> list[Decision]:
    """The call's waiting list, locked, in rank order (ties broken by date of decision)."""
    queryset = Decision.objects.select_for_update(of=("self",)).filter(
        candidature__appel=appel, issue=Issue.LISTE_ATTENTE
    )
    if exclude is not None and exclude.pk:
        queryset = queryset.exclude(pk=exclude.pk)
    return list(queryset.order_by("rang_attente", "decided_at", "pk"))


def _renumber(ordered: list[Decision], *, staff_user) -> None:
    """Ranks 1, 2, 3… in this order; only the decisions whose rank changes are saved (and
    logged)."""
    for rank, decision in enumerate(ordered, start=1):
        if decision.rang_attente != rank:
            decision.rang_attente = rank
            decision._history_user = staff_user
            decision.save(update_fields=["rang_attente"])


@transaction.atomic
def decide(
    *,
    candidature,
    issue,
    motivation="",
    retour_jury="",
    rang_attente=None,
    staff_user,
    now=None,
) -> Decision:
    """Record, or change, the decision on one submitted dossier; it stays staged (invisible to
    the applicant) until ``publish_decisions``.

    Refused (ValidationError in French, see ``check_decision``): a draft, an unknown issue, a
    « liste d'attente » or « non retenue » without motivation, a rank outside the waiting
    list; a change to a decision already published (afterwards only ``record_withdrawal`` and
    ``promote_next`` change decisions); once the call's decisions are published, a rank that
    would push back a published waiting-list decision. PermissionDenied for non-staff.

    The waiting list stays numbered 1, 2, 3…: without ``rang_attente`` a dossier joining it
    goes last and one already on it keeps its place; with it, the dossiers from that rank move
    down one; a dossier leaving the list makes those behind it move up.
    Side effects: creates or updates the Decision (decided_by, decided_at, a history row by the
    staff member), renumbers the waiting list (a history row per moved decision). Saving the
    same values again changes nothing. No letter, no e-mail: both come with publication.
    """
    _require_staff(staff_user)
    now = now or timezone.now()
    motivation = (motivation or "").strip()
    retour_jury = (retour_jury or "").strip()
    check_decision(
        candidature=candidature, issue=issue, motivation=motivation, rang_attente=rang_attente
    )
    # The appel row first, then the dossier (same order as submit_candidature): decisions of
    # one call are serialised, so the waiting list is renumbered by one writer at a time.
    appel = Appel.objects.select_for_update().get(pk=candidature.appel_id)
    locked = _lock_candidature(candidature)
    check_decision(candidature=locked, issue=issue, motivation=motivation)

    existing = Decision.objects.select_for_update().filter(candidature=locked).first()
    waiting = _waiting_list(appel, exclude=existing)
    position = None
    if issue == Issue.LISTE_ATTENTE:
        if rang_attente is not None:
            position = rang_attente
        elif existing and existing.issue == Issue.LISTE_ATTENTE and existing.rang_attente:
            position = existing.rang_attente
        else:
            position = len(waiting) + 1
        position = min(position, len(waiting) + 1)

    if existing is not None:
        unchanged = (existing.issue, existing.motivation, existing.retour_jury) == (
            issue,
            motivation,
            retour_jury,
        ) and (rang_attente is None or existing.rang_attente == position)
        if unchanged:
            return existing
        if existing.published_at is not None:
            raise ValidationError(PUBLISHED_DECISION_LOCKED, code="published")
    stays_in_place = (
        existing is not None
        and existing.issue == Issue.LISTE_ATTENTE
        and existing.rang_attente == position
    )
    if (
        position is not None
        and not stays_in_place
        and any(d.published_at for d in waiting[position - 1 :])
    ):
        raise ValidationError(
            {
                "rang_attente": "Les décisions sont publiées : une nouvelle entrée sur la liste "
                f"d'attente y prend la dernière place (rang {len(waiting) + 1})."
            }
        )

    decision = existing or Decision(candidature=locked)
    decision.issue = issue
    decision.motivation = motivation
    decision.retour_jury = retour_jury
    decision.rang_attente = position
    decision.decided_by = staff_user
    decision.decided_at = now
    decision._history_user = staff_user
    decision.save()
    if position is not None:
        waiting.insert(position - 1, decision)
    _renumber(waiting, staff_user=staff_user)
    return decision


@transaction.atomic
def record_withdrawal(*, candidature, staff_user, reason, now=None) -> Decision:
    """A retained collectivité gives up its place in the cycle.

    Refused: no reason, no « retenue » decision, a withdrawal already recorded. The place is
    not handed on automatically: staff call ``promote_next`` when they choose to.
    Side effects: ``Decision.desistement_at`` and ``desistement_motif`` (the whole reason), one
    history row by the staff member whose change reason is « Désistement : <reason> » (cut to
    the 100 characters the history keeps); the collectivité's cycle ``Participant``, when there
    is one, becomes « retiré » (``retire_at`` = the withdrawal), as
    ``cycle.services.withdraw_participant`` does when the collectivité withdraws itself.
    No e-mail.
    """
    _require_staff(staff_user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": "Indiquez le motif du désistement."}, code="reason_required"
        )
    Appel.objects.select_for_update().get(pk=candidature.appel_id)
    decision = Decision.objects.select_for_update().filter(candidature=candidature).first()
    if decision is None or decision.issue != Issue.RETENUE:
        raise ValidationError(
            "Seule une collectivité retenue peut se désister.", code="not_retained"
        )
    if decision.desistement_at is not None:
        raise ValidationError(
            "Le désistement de cette collectivité est déjà enregistré "
            f"(le {format_datetime_fr(decision.desistement_at)}).",
            code="already_withdrawn",
        )
    decision.desistement_at = now or timezone.now()
    decision.desistement_motif = reason
    decision._history_user = staff_user
    decision._change_reason = f"Désistement : {reason}"[:HISTORY_REASON_LENGTH]
    decision.save(update_fields=["desistement_at", "desistement_motif"])
    _withdraw_from_cycle(candidature, now=decision.desistement_at)
    return decision


def _withdraw_from_cycle(candidature, *, now) -> None:
    # Imported here: the cycle app builds on this one, not the other way round.
    from cycle.models import Participant

    participant = (
        Participant.objects.select_for_update()
        .filter(candidature_id=candidature.pk)
        .exclude(statut=Participant.Statut.RETIRE)
        .first()
    )
    if participant is not None:
        participant.statut = Participant.Statut.RETIRE
        participant.retire_at = now
        participant.save(update_fields=["statut", "retire_at"])


# Publication


@dataclasses.dataclass
class Capacite:
    """Where the call's decisions stand against its number of places."""

    appel: Appel
    places: int
    retenues: int  # retained and not withdrawn
    desistements: int
    liste_attente: list[Decision]  # in rank order, candidature and collectivité loaded
    non_retenues: int
    sans_decision: list[Candidature]  # submitted dossiers still without a decision
    a_publier: int  # decisions not published yet

    @property
    def depassement(self) -> bool:
        return self.retenues > self.places

    @property
    def places_libres(self) -> int:
        return max(self.places - self.retenues, 0)

    @property
    def texte(self) -> str:
        """« 12 places — 10 retenues — liste d'attente : 1. Arras, 2. Lens »."""
        waiting = ", ".join(
            f"{decision.rang_attente}. {decision.candidature.collectivite.nom}"
            for decision in self.liste_attente
        )
        parts = [
            _plural(self.places, "place"),
            _plural(self.retenues, "retenue"),
            f"liste d'attente : {waiting or 'vide'}",
        ]
        return " — ".join(parts)

    @property
    def avertissement(self) -> str:
        if not self.depassement:
            return ""
        retained = _plural(self.retenues, "collectivité retenue", "collectivités retenues")
        return f"Attention : {retained} pour {_plural(self.places, 'place')}."


def capacity(appel) -> Capacite:
    """The numbers staff keep in view while deciding (5 queries, whatever the call's size)."""
    decisions = Decision.objects.filter(candidature__appel=appel)
    waiting = list(
        decisions.filter(issue=Issue.LISTE_ATTENTE)
        .select_related("candidature__collectivite")
        .order_by("rang_attente", "decided_at", "pk")
    )
    counts = {
        issue: decisions.filter(issue=issue, desistement_at__isnull=True).count()
        for issue in (Issue.RETENUE, Issue.NON_RETENUE)
    }
    return Capacite(
        appel=appel,
        places=appel.places,
        retenues=counts[Issue.RETENUE],
        desistements=decisions.filter(desistement_at__isnull=False).count(),
        liste_attente=waiting,
        non_retenues=counts[Issue.NON_RETENUE],
        sans_decision=list(
            appel.candidatures.deposees()
            .filter(decision__isnull=True)
            .select_related("collectivite")
            .order_by("numero")
        ),
        a_publier=decisions.filter(published_at__isnull=True).count(),
    )


@dataclasses.dataclass
class PublicationReport:
    """What one run of ``publish_decisions`` did, and what is left for the next one."""

    appel: Appel
    published: int = 0  # decisions published by this run
    letters_filed: int = 0  # letters rendered and filed by this run
    sent: int = 0  # e-mails sent by this run
    failures: list[EnvoiCourrier] = dataclasses.field(
        default_factory=list
    )  # still « échec » afterwards
    # Letters this run could not render or file: (decision, error); the next run retries them.
    letter_failures: list[tuple[Decision, str]] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def letters_failed(self) -> int:
        return len(self.letter_failures)

    @property
    def complete(self) -> bool:
        return not self.failures and not self.letter_failures

    @property
    def summary(self) -> str:
        letters_failed = (
            f"courriers en échec : {self.letters_failed} ; " if self.letter_failures else ""
        )
        return (
            f"Décisions publiées : {self.published} ; courriers classés : {self.letters_filed} ; "
            f"{letters_failed}e-mails envoyés : {self.sent} ; échecs : {self.failed}."
        )


def _letter_path(decision, version: int) -> str:
    candidature = decision.candidature
    token = secrets.token_urlsafe(12)
    return f"{candidature.appel.slug}/{candidature.numero}-v{version}-{token}.pdf"


def _latest_courriers(appel):
    """The current letter of each decision of ``appel`` (the highest version)."""
    newer = Courrier.objects.filter(decision=OuterRef("decision"), version__gt=OuterRef("version"))
    return Courrier.objects.filter(decision__candidature__appel=appel).exclude(Exists(newer))


def _file_letter(decision, *, version: int, pdf: bytes) -> Courrier:
    """Store ``pdf`` as the decision's letter ``version`` with one EnvoiCourrier per référent·e
    (caller holds the decision's row lock)."""
    courrier = Courrier(
        decision=decision,
        issue=decision.issue,
        version=version,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    courrier.pdf.save(_letter_path(decision, version), ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            courrier.save()
            _ensure_envois(courrier)
    except Exception:
        courrier.pdf.storage.delete(courrier.pdf.name)
        raise
    return courrier


def _ensure_envois(courrier) -> int:
    """One EnvoiCourrier per current référent·e of the dossier; returns how many were added."""
    created = 0
    for email in courrier.decision.candidature.referent_emails():
        _, was_created = EnvoiCourrier.objects.get_or_create(
            courrier=courrier, destinataire=email.lower()
        )
        created += was_created
    return created


def _file_missing_letter(decision_id: int, *, letter_date) -> bool:
    """Render and file version 1 of a published decision's letter unless it is filed already.

    The PDF is rendered outside any transaction (it takes a while); the filing re-checks under
    the decision's lock, so two runs at once file one letter.
    """
    decision = Decision.objects.select_related(
        "candidature__appel", "candidature__collectivite"
    ).get(pk=decision_id)
    pdf = letters.render_letter_pdf(decision, letter_date=letter_date)
    with transaction.atomic():
        locked = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("candidature__appel", "candidature__collectivite")
            .get(pk=decision_id)
        )
        if locked.courriers.exists():
            return False
        _file_letter(locked, version=1, pdf=pdf)
    return True


def _objet(modele, decision) -> str:
    """The e-mail subject: the ModeleCourrier « objet », whose variables are those of the
    letter."""
    appel = decision.candidature.appel
    if modele is None or not modele.objet.strip():
        return f"Votre candidature à l'appel « {appel.titre} »"
    text = modele.objet
    if "{" in text:
        try:
            context = letters.letter_context(decision)
            text = Template(text).render(Context(context, autoescape=False))
        except (TemplateSyntaxError, TypeError, ValueError):
            logger.exception("Objet du modèle de courrier %s illisible", modele.pk)
    return " ".join(text.split())


def _letter_email(envoi) -> EmailMultiAlternatives:
    courrier = envoi.courrier
    decision = courrier.decision
    candidature = decision.candidature
    appel = candidature.appel
    modele = ModeleCourrier.objects.filter(appel=appel, issue=courrier.issue).first()
    # As the letter writes them: « de la Métropole Européenne de Lille », « d'Arras ».
    nom, de_collectivite = letters.collectivite_names(candidature.collectivite)
    context = {
        "objet": _objet(modele, decision),
        "collectivite": nom,
        "de_collectivite": de_collectivite,
        "retour_jury": bool(decision.retour_jury.strip()),
        "numero": candidature.numero,
        "appel_titre": appel.titre,
        "version": courrier.version,
        "dossier_url": site_url(candidature.get_absolute_url()),
        "contact_nom": appel.contact_nom,
        "contact_fonction": appel.contact_fonction,
        "contact_email": appel.contact_email,
        "site_url": settings.SITE_URL,
    }
    message = build_email(
        "decision", context, to=[envoi.destinataire], reply_to=[appel.contact_email]
    )
    with courrier.pdf.open("rb") as handle:
        pdf = handle.read()
    message.attach(letters.letter_filename(decision), pdf, "application/pdf")
    return message


def _send_envoi(envoi_id: int, *, now) -> bool | None:
    """Send one letter e-mail and record the attempt; True sent, False failed, None skipped.

    The row stays locked while the mail server answers, so a concurrent run skips it rather
    than sending it twice; nothing else is locked meanwhile.
    """
    with transaction.atomic():
        envoi = (
            EnvoiCourrier.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "courrier__decision__candidature__appel",
                "courrier__decision__candidature__collectivite",
            )
            .exclude(statut=EnvoiCourrier.Statut.ENVOYE)
            .filter(pk=envoi_id)
            .first()
        )
        if envoi is None:
            return None
        return envoi.attempt(lambda: _letter_email(envoi), now=now)


def _pending_envois(appel, courrier=None):
    """E-mails of current letters not sent yet (a superseded letter is never sent again)."""
    envois = EnvoiCourrier.objects.filter(courrier__in=_latest_courriers(appel))
    if courrier is not None:
        envois = envois.filter(courrier=courrier)
    return envois.exclude(statut=EnvoiCourrier.Statut.ENVOYE).order_by(
        "courrier__decision__candidature__numero", "destinataire", "pk"
    )


def send_pending_letters(*, appel, courrier=None, now=None) -> tuple[int, list[EnvoiCourrier]]:
    """Send every current letter e-mail of ``appel`` (or of one ``courrier``) not sent yet,
    each in its own small transaction. Returns (sent by this call, envois still « échec »)."""
    now = now or timezone.now()
    sent = 0
    for envoi_id in list(_pending_envois(appel, courrier).values_list("pk", flat=True)):
        sent += bool(_send_envoi(envoi_id, now=now))
    failures = list(
        _pending_envois(appel, courrier)
        .filter(statut=EnvoiCourrier.Statut.ECHEC)
        .select_related("courrier__decision__candidature__collectivite")
    )
    return sent, failures


def _enrol_in_cycle(appel, staff_user) -> None:
    """Retained collectivités join the call's cycle as soon as their decision is public."""
    # Imported here: the cycle app builds on this one, not the other way round.
    from cycle.models import Cycle
    from cycle.participants.services import enrol_retained

    cycle = Cycle.objects.filter(appel=appel).first()
    if cycle is not None:
        enrol_retained(cycle=cycle, staff_user=staff_user)


def publish_decisions(*, appel, now=None, staff_user=None, send=True) -> PublicationReport:
    """Publish the call's decisions, file their letters and e-mail them; run it again at will.

    ``send=False`` stops after step 2: the e-mails wait, « à envoyer », for the next run.
    When the call already has its cycle, the retained collectivités are enrolled in it
    (``cycle.services.enrol_retained``) right after step 1.

    Refused (ValidationError, French) before ``appel.announcement_at``, while a submitted
    dossier has no decision, and when there is no decision at all. Idempotent and resumable,
    in three steps that each commit:
    1. one transaction: every unpublished decision gets ``published_at`` (a history row each),
       the call ``decisions_published_at`` (kept from the first run), the letter templates are
       created if missing (``letters.ensure_modeles_courrier``);
    2. for each published decision without a letter: the PDF is rendered (letter dated the day
       of publication), filed as Courrier version 1 with its SHA-256, with one EnvoiCourrier
       per référent·e (``candidature.referent_emails()``), each in its own transaction; a
       letter that fails (template, WeasyPrint, storage) is logged and reported in
       ``report.letter_failures``, the others go on, and the next run retries it;
    3. every EnvoiCourrier of a current letter not « envoyé » is e-mailed (the letter attached,
       subject from the ModeleCourrier « objet »), each in its own small transaction that
       records statut, tentatives, dernière tentative, envoye_at and erreur. A failure for one
       recipient is recorded as « échec » and the others go on; the next run retries it.
    Must be called outside any transaction (the command, the admin action): e-mails leave only
    once the publication is committed, and a slow mail server holds no lock but its own row.
    """
    if staff_user is not None:
        _require_staff(staff_user)
    now = now or timezone.now()
    report = PublicationReport(appel=appel)

    with transaction.atomic():
        locked = Appel.objects.select_for_update().get(pk=appel.pk)
        if now < locked.announcement_at:
            raise ValidationError(_publication_opens_message(locked), code="too_early")
        missing = list(
            locked.candidatures.deposees()
            .filter(decision__isnull=True)
            .select_related("collectivite")
            .order_by("numero")
        )
        if not missing and not Decision.objects.filter(candidature__appel=locked).exists():
            raise ValidationError("Aucune décision à publier pour cet appel.", code="empty")
        if missing:
            names = ", ".join(f"{c.collectivite.nom} ({c.numero})" for c in missing)
            raise ValidationError(
                f"{_plural(len(missing), 'dossier déposé', 'dossiers déposés')} sans décision : "
                f"{names}. Décidez de chaque dossier avant de publier.",
                code="undecided",
            )
        letters.ensure_modeles_courrier(locked)
        unpublished = Decision.objects.select_for_update().filter(
            candidature__appel=locked, published_at__isnull=True
        )
        for decision in unpublished:
            decision.published_at = now
            decision._history_user = staff_user
            decision._change_reason = "Publication"
            decision.save(update_fields=["published_at"])
            report.published += 1
        if locked.decisions_published_at is None:
            locked.decisions_published_at = now
            locked.save(update_fields=["decisions_published_at"])
    appel.decisions_published_at = locked.decisions_published_at
    _enrol_in_cycle(appel, staff_user)
    letter_date = paris(locked.decisions_published_at).date()

    to_file = (
        Decision.objects.filter(candidature__appel=appel, published_at__isnull=False)
        .filter(courriers__isnull=True)
        .order_by("candidature__numero")
        .values_list("pk", flat=True)
    )
    for decision_id in list(to_file):
        # One letter that cannot be rendered or stored does not hold back the others: it is
        # reported, and the next run, finding it still without a letter, tries again.
        try:
            report.letters_filed += _file_missing_letter(decision_id, letter_date=letter_date)
        except Exception as error:
            logger.exception("Courrier de la décision %s non classé", decision_id)
            decision = Decision.objects.select_related("candidature__collectivite").get(
                pk=decision_id
            )
            report.letter_failures.append((decision, f"{type(error).__name__} : {error}"))
    # A référent·e added since a letter was filed gets it too.
    for courrier in _latest_courriers(appel).select_related("decision__candidature"):
        _ensure_envois(courrier)

    if send:
        report.sent, report.failures = send_pending_letters(appel=appel, now=now)
    return report


def promote_next(*, appel, staff_user, now=None) -> Decision | None:
    """Give a free place to the first dossier of the waiting list; None when the list is empty.

    Refused (ValidationError) when no place is free: every place is held by a retained
    collectivité that has not withdrawn (record the withdrawal first).
    Side effects, in one transaction: that Decision becomes « retenue » with the motivation
    PROMOTION_MOTIVATION (rank cleared, decided_by, decided_at, a history row); the others of
    the list move up one rank (a history row each). Once the call's decisions are published,
    the promoted decision is published at once and its new letter is rendered and filed as the
    next Courrier version, with one EnvoiCourrier per référent·e, and the collectivité joins
    the call's cycle when there is one (``cycle.services.enrol_retained``); then, outside the
    transaction, those e-mails are sent and recorded as ``publish_decisions`` does (a failure
    is retried by its next run). Before publication, nothing is filed nor sent: publication
    will do it.
    """
    _require_staff(staff_user)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Appel.objects.select_for_update().get(pk=appel.pk)
        waiting = _waiting_list(locked)
        if not waiting:
            return None
        retained = Decision.objects.filter(
            candidature__appel=locked, issue=Issue.RETENUE, desistement_at__isnull=True
        ).count()
        if retained >= locked.places:
            raise ValidationError(
                f"Aucune place n'est libre : {_plural(locked.places, 'place')}, "
                f"{_plural(retained, 'collectivité retenue', 'collectivités retenues')}. "
                "Enregistrez d'abord le désistement d'une collectivité retenue.",
                code="full",
            )
        promoted, others = waiting[0], waiting[1:]
        promoted.issue = Issue.RETENUE
        promoted.motivation = PROMOTION_MOTIVATION
        promoted.rang_attente = None
        promoted.decided_by = staff_user
        promoted.decided_at = now
        if locked.decisions_published_at is not None:
            promoted.published_at = now
        promoted._history_user = staff_user
        promoted._change_reason = "Place libérée : premier·e de la liste d'attente"
        promoted.save()
        _renumber(others, staff_user=staff_user)
        if locked.decisions_published_at is not None:
            promoted = Decision.objects.select_related(
                "candidature__appel", "candidature__collectivite"
            ).get(pk=promoted.pk)
            version = (promoted.courriers.aggregate(last=Max("version"))["last"] or 0) + 1
            pdf = letters.render_letter_pdf(promoted, letter_date=paris(now).date())
            courrier = _file_letter(promoted, version=version, pdf=pdf)
            _enrol_in_cycle(locked, staff_user)
    if locked.decisions_published_at is not None:
        send_pending_letters(appel=locked, courrier=courrier, now=now)
    return promoted
