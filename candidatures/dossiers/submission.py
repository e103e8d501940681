"""Submitting a dossier, reopening it, and its receipt (the accusé de réception).

Same rules as ``services.py``: keyword-only arguments, the only way a status changes, a
docstring of side effects. ``submit_candidature`` records the deposit and hands its receipt
to a background task (``issue_receipt_task``: render, file, e-mail), so « Déposer » never waits
for WeasyPrint. ``issue_missing_receipts`` is the sweep behind the periodic
``issue_missing_receipts_task`` and ``manage.py emettre_recus``.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import de_nom, format_date_fr, format_datetime_fr
from cerdd_ami.tasks import background, enqueue

from . import receipt
from .answers import review
from .models import Candidature, Depot, Evenement
from .services import PARIS, _lock_candidature, _refresh_caller_instance

# 2: the call's questionnaire (question pk and type beside each answer, pieces by question).
SNAPSHOT_SCHEMA = 2

logger = logging.getLogger(__name__)

# The product's own parts of the form, section by section, as frozen in a Depot and printed on
# the receipt: (section title, [(field, label, group)]). The call's questionnaire comes between
# the référent·es and the commitments (``build_snapshot``).
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


def _paris_iso(value: datetime) -> str:
    return timezone.localtime(value, PARIS).isoformat()


def _deadline_passed_message(deadline: datetime) -> str:
    return (
        f"La date limite de dépôt ({format_datetime_fr(deadline)} Paris) est dépassée : "
        "le dossier ne peut plus être déposé."
    )


def _next_numero(appel) -> str:
    """Take the next numero of ``appel`` from its counter.

    One UPDATE of the appel row, which returns the new value (RETURNING): the row stays
    locked until the caller's transaction ends, so two submissions never get the same number,
    and a rolled-back one gives its number back.
    """
    appel.dernier_numero = F("dernier_numero") + 1
    appel.save(update_fields=["dernier_numero"])
    return f"{appel.prefixe_numero}-{appel.dernier_numero:03d}"


def _answer_value(candidature, field) -> str:
    value = getattr(candidature, field)
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    return str(value or "")


def build_snapshot(*, candidature, version, submitted_at, submitted_by, questionnaire=None) -> dict:
    """The frozen JSON copy of a dossier stored in ``Depot.contenu`` (and printed on the receipt).

    Plain JSON types only: French labels beside every answer, so the copy reads on its own
    even if the form changes in a later edition. ``questionnaire`` as
    ``candidature.questionnaire()`` gives it, with the dossier's answers and pieces already
    prefetched; without it, everything is read here.
    """
    collectivite = candidature.collectivite
    appel = candidature.appel
    if questionnaire is None:
        questionnaire = candidature.read_questionnaire()
        candidature.read_answers()

    def fixed(title, fields):
        answers = [
            {
                "champ": field,
                "groupe": group,
                "libelle": label,
                "valeur": _answer_value(candidature, field),
            }
            for field, label, group in fields
        ]
        return {"titre": title, "reponses": answers}

    *before, engagements = [fixed(title, fields) for title, fields in FORM_SECTIONS]
    sections = list(before)
    pieces = []
    # Each question's wording as the applicant saw it: the receipt reads the same even if
    # staff correct a label later.
    for titre, answers in review(candidature, questionnaire):
        asked = [
            {
                "champ": question.code,
                "question": question.pk,
                "type": question.type,
                "groupe": "",
                "libelle": question.libelle,
                "valeur": text,
            }
            for question, text, _files in answers
            if not question.est_fichier
        ]
        if asked:
            sections.append({"titre": titre, "reponses": asked})
        pieces += [
            {
                "id": piece.pk,
                "question": question.pk,
                "nature": question.code,
                "nature_libelle": question.libelle,
                "nom": piece.nom_original,
                "type": piece.type_mime,
                "taille": piece.taille,
                "sha256": piece.sha256,
            }
            for question, _text, files in answers
            for piece in sorted(files, key=lambda piece: (piece.uploaded_at, piece.pk))
        ]
    sections.append(engagements)
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

    Side effects, in one short transaction under the dossier's row lock, and the appel's from
    its numbering to the commit (the last writes only: a call's submissions wait for each
    other for milliseconds, never behind another's checks and snapshot, nor a receipt): on
    first submission, a numero « PRÉFIXE-00n » from the appel's counter
    (``Appel.dernier_numero``); statut DEPOSEE and deposee_at; a Depot (next version) with the
    frozen ``contenu`` and no receipt yet; an Evenement DEPOT; and ``issue_receipt_task`` for
    that Depot, enqueued in the same transaction (the task exists if and only if the deposit
    is committed). The worker then files the receipt PDF and mails it to the référent·es;
    the dossier page says « en préparation » until then.
    """
    with transaction.atomic():
        depot = _record_submission(candidature=candidature, user=user, now=now or timezone.now())
        enqueue(issue_receipt_task, depot_id=depot.pk)
    return depot


def _record_submission(*, candidature, user, now) -> Depot:
    # Inside submit_candidature's transaction. The dossier's row first: a double click waits
    # here, then sees DEPOSEE. The appel's row is locked by its counter's UPDATE, last: the
    # services that lock an appel then one of its dossiers (decisions) act after the
    # deadline, when this dossier cannot be deposited.
    locked = _lock_candidature(candidature)
    appel = locked.appel  # read with the dossier's row, inside this transaction

    if locked.statut == Candidature.Statut.DEPOSEE:
        raise AlreadySubmitted(locked)
    if now < appel.opens_at:
        raise ValidationError(
            "Cet appel n'est pas encore ouvert : le dossier ne peut pas encore être déposé.",
            code="not_open",
        )
    if not locked.accepts_changes(now):
        raise ValidationError(_deadline_passed_message(locked.deadline()), code="deadline")
    # The questionnaire, answers and pieces read once for the checks and the frozen copy.
    questionnaire = locked.read_questionnaire()
    locked.read_answers()
    missing = locked.missing_items(questionnaire)
    if missing:
        raise IncompleteCandidature(missing)

    version = (locked.depots.aggregate(last=Max("version"))["last"] or 0) + 1
    contenu = build_snapshot(
        candidature=locked,
        version=version,
        submitted_at=now,
        submitted_by=user,
        questionnaire=questionnaire,
    )
    if not locked.numero:
        locked.numero = contenu["numero"] = _next_numero(appel)
    statut_avant = locked.statut
    locked.statut = Candidature.Statut.DEPOSEE
    locked.deposee_at = now
    locked.save(update_fields=["numero", "statut", "deposee_at", "updated_at"])
    depot = Depot.objects.create(
        candidature=locked, version=version, submitted_at=now, submitted_by=user, contenu=contenu
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


def issue_receipt(*, depot_id, now=None) -> bool:
    """File the receipt of a Depot (``file_receipt``), then mail it (``send_receipt``).

    Safe to run twice or at once from two places (the task, its retry, the sweep): each step
    checks under the Depot's row lock what is already done, so the PDF is filed once and the
    e-mail leaves once. Side effects: those of both. Returns whether this call mailed it.
    Rendering, storage and mail server errors propagate (the task is then retried); a Depot
    deleted meanwhile (retention purge of its dossier) is skipped.
    """
    depot = Depot.objects.filter(pk=depot_id).first()
    if depot is None:
        return False
    file_receipt(depot=depot)
    return send_receipt(depot_id=depot_id, now=now or timezone.now())


@background("Accusé de réception d'un dépôt (PDF et e-mail aux référent·es)")
def issue_receipt_task(depot_id: int) -> None:
    """The receipt of one deposit, off the request path (enqueued by ``submit_candidature``)."""
    issue_receipt(depot_id=depot_id)


def file_receipt(*, depot) -> None:
    """Render and store the receipt of ``depot`` if it has none yet.

    The PDF comes from ``depot.contenu`` alone, so a receipt issued late still shows exactly
    what was submitted. Rendering happens outside any lock; then, in a short transaction under
    the Depot's row lock, a receipt filed meanwhile by someone else (the deposit's task and the
    sweep at once) wins. Side effects: the PDF stored under
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


# A deposit's own task (``issue_receipt_task``) issues its receipt within seconds, a minute in
# a rush: leave it that long before the sweep renders the same PDF a second time.
RECEIPT_GRACE = timedelta(minutes=5)


def missing_receipts(*, now=None):
    """Depots without receipt, or whose receipt was not mailed, once their own task has had
    time to issue it."""
    now = now or timezone.now()
    return Depot.objects.filter(
        Q(recu="") | Q(recu_envoye_at__isnull=True), submitted_at__lte=now - RECEIPT_GRACE
    )


def issue_missing_receipts(*, now=None) -> int:
    """``issue_receipt`` for every Depot of ``missing_receipts``; the count issued.

    One failure is logged and does not stop the others: they are retried at the next run.
    """
    issued = 0
    now = now or timezone.now()
    for depot_id in (
        missing_receipts(now=now).order_by("submitted_at", "pk").values_list("pk", flat=True)
    ):
        try:
            issue_receipt(depot_id=depot_id, now=now)
        except Exception:
            logger.exception("Accusé de réception du dépôt %s non émis", depot_id)
        else:
            issued += 1
    return issued


@background("Émission des accusés de réception manquants (toutes les 10 minutes)")
def issue_missing_receipts_task() -> int:
    """The periodic sweep (``PERIODIC_TASKS``): receipts whose own task gave up, or that were
    never enqueued (deposits recorded before the worker existed)."""
    return issue_missing_receipts()


def _depot_email_context(candidature, depot) -> dict:
    appel = candidature.appel
    return {
        "numero": candidature.numero,
        "version": depot.version,
        "collectivite": candidature.collectivite.nom,
        "de_collectivite": de_nom(candidature.collectivite.nom),
        "appel_titre": appel.titre,
        "programme": appel.programme,
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
