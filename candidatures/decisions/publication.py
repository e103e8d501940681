"""Publication of the decisions: letters rendered and filed, then e-mailed to each référent·e.

E-mails of letters are not sent on commit like the others: each one is recorded in an
EnvoiCourrier (statut, tentatives, erreur) so that a failure is retried by the next run instead
of being lost in a log.
"""

import dataclasses
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone

from candidatures.appels.models import Appel
from candidatures.decisions import letter_templates
from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import paris
from cerdd_ami.tasks import background, enqueue

from . import hooks, letters
from .models import Courrier, Decision, EnvoiCourrier, Issue, ModeleCourrier
from .services import (
    PROMOTION_MOTIVATION,
    _plural,
    _publication_opens_message,
    _renumber,
    _require_staff,
    _waiting_list,
)

logger = logging.getLogger(__name__)


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


def _latest_letters(appel):
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
    """Render and file the letter of a published decision's outcome unless it is filed already:
    version 1 dated ``letter_date`` (the publication's day), or, after a promotion, the next
    version dated the day of the promotion (``decided_at``).

    The PDF is rendered outside any transaction (it takes a while); the filing re-checks under
    the decision's lock, so two runs at once file one letter.
    """
    decision = Decision.objects.select_related(
        "candidature__appel", "candidature__collectivite"
    ).get(pk=decision_id)
    if decision.courriers.exists():
        letter_date = paris(decision.decided_at).date()
    pdf = letters.render_letter_pdf(decision, letter_date=letter_date)
    with transaction.atomic():
        locked = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("candidature__appel", "candidature__collectivite")
            .get(pk=decision_id)
        )
        if locked.issue != decision.issue or locked.courriers.filter(issue=locked.issue).exists():
            return False
        version = (locked.courriers.aggregate(last=Max("version"))["last"] or 0) + 1
        _file_letter(locked, version=version, pdf=pdf)
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
    envois = EnvoiCourrier.objects.filter(courrier__in=_latest_letters(appel))
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


class LettersNotDelivered(Exception):
    """Raised by the letters' task when a letter or an e-mail failed: the worker retries it."""


def publish_decisions(*, appel, now=None, staff_user=None, send=True) -> PublicationReport:
    """Publish the call's decisions, file their letters and e-mail them, all in this call; run
    it again at will (``manage.py publier_decisions``, the demo loaders).

    ``send=False`` stops after step 2: the e-mails wait, « à envoyer », for the next run.
    Right after step 1, every ``hooks.on_published`` callable runs (the cycle's enrols the
    retained collectivités in the call's cycle, when there is one).

    Refused (ValidationError, French) before ``appel.announcement_at``, while a submitted
    dossier has no decision, and when there is no decision at all. Idempotent and resumable,
    in three steps that each commit:
    1. one transaction: every unpublished decision gets ``published_at`` (a history row each),
       the call ``decisions_published_at`` (kept from the first run), the letter templates are
       created if missing (``letter_templates.ensure_modeles_courrier``);
    2. and 3. ``deliver_pending_letters``: letters rendered and filed, e-mails sent.
    Must be called outside any transaction (the command, the worker): e-mails leave only
    once the publication is committed, and a slow mail server holds no lock but its own row.
    """
    report = PublicationReport(appel=appel)
    now = now or timezone.now()
    report.published = _make_public(appel=appel, now=now, staff_user=staff_user)
    return deliver_pending_letters(appel=appel, now=now, send=send, report=report)


def publish_decisions_in_background(*, appel, now=None, staff_user=None) -> PublicationReport:
    """Step 1 of ``publish_decisions`` now, steps 2 and 3 in the worker (« Publier les
    décisions » in the admin, the scheduled publication).

    Same refusals and step 1 as ``publish_decisions``; in step 1's transaction, the task
    ``deliver_letters`` is enqueued (it exists if and only if the publication is committed).
    Returns a report of step 1 only (``published``). Run again, it publishes what is left and
    enqueues the letters' task again, which retries what failed and sends nothing twice.
    """
    report = PublicationReport(appel=appel)
    report.published = _make_public(
        appel=appel, now=now or timezone.now(), staff_user=staff_user, in_background=True
    )
    return report


def _make_public(*, appel, now, staff_user, in_background=False) -> int:
    """Step 1 of the publication, then the ``published`` hooks; returns how many decisions it
    published. With ``in_background``, the letters' task is enqueued in the transaction."""
    if staff_user is not None:
        _require_staff(staff_user)
    published = 0
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
        letter_templates.ensure_modeles_courrier(locked)
        unpublished = Decision.objects.select_for_update().filter(
            candidature__appel=locked, published_at__isnull=True
        )
        for decision in unpublished:
            decision.published_at = now
            decision._history_user = staff_user
            decision._change_reason = "Publication"
            decision.save(update_fields=["published_at"])
            published += 1
        if locked.decisions_published_at is None:
            locked.decisions_published_at = now
            locked.save(update_fields=["decisions_published_at"])
        if in_background:
            enqueue(deliver_letters, appel_id=locked.pk)
    appel.decisions_published_at = locked.decisions_published_at
    hooks.published(appel=appel, staff_user=staff_user)
    return published


def deliver_pending_letters(*, appel, now=None, send=True, report=None) -> PublicationReport:
    """Steps 2 and 3 of the publication of ``appel``'s (published) decisions; idempotent.

    2. for each published decision without a letter of its outcome (none yet, or a promoted
       dossier's waiting-list letter): the PDF is rendered (dated the day of publication, or of
       the promotion), filed as the next Courrier version with its SHA-256, with one
       EnvoiCourrier per référent·e (``candidature.referent_emails()``), each in its own
       transaction; a
       letter that fails (template, WeasyPrint, storage) is logged and reported in
       ``report.letter_failures``, the others go on, and the next run retries it; a
       référent·e added since a letter was filed gets an EnvoiCourrier too;
    3. (``send``) every EnvoiCourrier of a current letter not « envoyé » is e-mailed (the
       letter attached, subject from the ModeleCourrier « objet »), each in its own small
       transaction that records statut, tentatives, dernière tentative, envoye_at and erreur.
       A failure for one recipient is recorded as « échec » and the others go on; the next
       run retries it. Nothing « envoyé » is sent again.
    Must be called outside any transaction. Returns ``report`` (a new one by default) with
    ``letters_filed``, ``letter_failures``, ``sent`` and ``failures`` filled in.
    """
    now = now or timezone.now()
    report = report or PublicationReport(appel=appel)
    published_at = Appel.objects.values_list("decisions_published_at", flat=True).get(pk=appel.pk)
    if published_at is None:
        return report
    letter_date = paris(published_at).date()

    # A letter of the decision's current outcome: none yet, or only the waiting list's before
    # a promotion.
    current = Courrier.objects.filter(decision=OuterRef("pk"), issue=OuterRef("issue"))
    to_file = (
        Decision.objects.filter(candidature__appel=appel, published_at__isnull=False)
        .exclude(Exists(current))
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
    for courrier in _latest_letters(appel).select_related("decision__candidature"):
        _ensure_envois(courrier)

    if send:
        report.sent, report.failures = send_pending_letters(appel=appel, now=now)
    return report


@background("Courriers de décision : classement et envoi par e-mail")
def deliver_letters(*, appel_id: int) -> dict:
    """The worker's steps 2 and 3 of a publication (``deliver_pending_letters``); safe to run
    twice (nothing filed twice, nothing « envoyé » sent again).

    Raises LettersNotDelivered when a letter or an e-mail failed, after the others went: the
    worker retries the task with back-off, and staff see the error in the list of tasks.
    """
    appel = Appel.objects.get(pk=appel_id)
    report = deliver_pending_letters(appel=appel)
    if not report.complete:
        details = [
            f"{decision.candidature.collectivite.nom} ({error})"
            for decision, error in report.letter_failures
        ] + [f"{envoi.destinataire} ({envoi.erreur})" for envoi in report.failures]
        raise LettersNotDelivered(f"{report.summary} {' ; '.join(details)}")
    return {"courriers_classes": report.letters_filed, "emails_envoyes": report.sent}


def promote_next(*, appel, staff_user, now=None) -> Decision | None:
    """Give a free place to the first dossier of the waiting list; None when the list is empty.

    Refused (ValidationError) when no place is free: every place is held by a retained
    collectivité that has not withdrawn (record the withdrawal first).
    Side effects, in one transaction: that Decision becomes « retenue » with the motivation
    PROMOTION_MOTIVATION (rank cleared, decided_by, decided_at, a history row); the others of
    the list move up one rank (a history row each). Once the call's decisions are published,
    the promoted decision is published at once, the collectivité joins the call's cycle when
    there is one (``hooks.on_published``), and the letters' task ``deliver_letters`` is
    enqueued: the worker renders its new letter (dated the day of the promotion) and files it
    as the next Courrier version with one EnvoiCourrier per référent·e, then sends those
    e-mails and records them as the publication does (a failure is retried with back-off,
    nothing « envoyé » is sent again). Before publication, nothing is filed nor sent:
    publication will do it.
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
            hooks.published(appel=locked, staff_user=staff_user)
            # The worker renders its new letter (WeasyPrint: not in the request), files it and
            # sends it.
            enqueue(deliver_letters, appel_id=locked.pk)
    return promoted
