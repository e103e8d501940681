"""Personal-data retention rules (RGPD), enforced by ``manage.py purger_donnees``.

The rules are the ones the consent text of the form promises (``EngagementsForm``) and
docs/deployment.md section 6 lists:

- sign-in link requests (e-mail + IP): SIGN_IN_REQUESTS_RETENTION_DAYS days (30 by default),
  since they only serve to count requests over the last hour;
- drafts never submitted: 12 months after the call closes, deleted with their files;
- applicant accounts left with nothing and unused for 12 months: deleted;
- submitted dossiers: 5 years after the end of the cycle, then only *reported*. A public
  body's records may fall under archives rules (sort final, versement aux archives): the DPO
  and the archivist decide, not a cron job.

The 12 months and 5 years are not settings: they are the wording of the consent applicants
gave, and changing them means changing that text too.
"""

import calendar
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from candidatures.appels.models import Appel, end_of_day
from candidatures.connexion.models import DemandeLienConnexion
from candidatures.decisions.models import Decision
from candidatures.dossiers.models import Candidature, Depot, PieceJointe
from candidatures.jury.models import ConflitInteret, Evaluation, Note
from candidatures.messagerie.models import Message
from cerdd_ami import files
from cerdd_ami.tasks import background

DRAFT_RETENTION_MONTHS = 12
ACCOUNT_INACTIVITY_MONTHS = 12
DOSSIER_RETENTION_MONTHS = 5 * 12


def shift_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by ``months`` calendar months, on the Paris wall clock.

    The day is clamped to the length of the target month (31 March − 1 month = 28 or 29
    February), as « 12 mois » is read in everyday French. The arithmetic is done in local
    time so that a daylight-saving change in between does not shift the hour.
    """
    local = timezone.localtime(moment)
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


# ---------------------------------------------------------------------------------------------
# Sign-in link requests


def sign_in_requests_past_retention(*, now=None):
    """Sign-in link requests older than SIGN_IN_REQUESTS_RETENTION_DAYS days."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.SIGN_IN_REQUESTS_RETENTION_DAYS)
    return DemandeLienConnexion.objects.filter(created_at__lt=cutoff)


@transaction.atomic
def purge_sign_in_requests(*, now=None) -> int:
    """Delete the sign-in link requests past retention; return how many were deleted.

    Side effects: DELETE of ``DemandeLienConnexion`` rows only (nothing references them).
    """
    deleted, _per_model = sign_in_requests_past_retention(now=now).delete()
    return deleted


# ---------------------------------------------------------------------------------------------
# Drafts never submitted


def stale_drafts(*, now=None):
    """Drafts never submitted whose call closed more than 12 months ago.

    « Never submitted » means no Depot at all: a dossier reopened after a submission is a
    draft again but was deposited once, so it falls under the 5-year rule instead. A draft
    with an extension is kept until 12 months after the extension too, the later date.
    """
    now = now or timezone.now()
    cutoff = shift_months(now, -DRAFT_RETENTION_MONTHS)
    return (
        Candidature.objects.brouillons()
        .filter(appel__closes_at__lt=cutoff)
        .filter(Q(prolongation_jusqu_au__isnull=True) | Q(prolongation_jusqu_au__lt=cutoff))
        .exclude(Exists(Depot.objects.filter(candidature=OuterRef("pk"))))
    )


@transaction.atomic
def purge_stale_drafts(*, now=None) -> int:
    """Delete the stale drafts (``stale_drafts``); return how many dossiers were deleted.

    Side effects, in one transaction:
    - DELETE of each Candidature and, by cascade, its AccesCandidature, PieceJointe,
      Evenement, Message (the dossier's thread) rows (and Affectation, ConflitInteret,
      Evaluation, Note, Decision, which a draft should not have anyway; a Participant,
      PROTECT, cannot exist without a deposit);
    - DELETE of the simple_history rows of those dossiers (conflicts, évaluations, notes,
      decisions, including the rows the cascade itself just wrote): personal data lives
      there too. Candidature and PieceJointe keep no history;
    - once committed, the uploaded files (``PieceJointe.fichier``, ``Message.fichier``) are
      removed from storage.
    """
    # OF self: locking the calls too would hold up submissions to current calls.
    drafts = stale_drafts(now=now).select_for_update(of=("self",))
    ids = list(drafts.values_list("pk", flat=True))
    if not ids:
        return 0
    pieces = list(PieceJointe.objects.filter(candidature__in=ids).only("fichier"))
    attachments = list(
        Message.objects.filter(candidature__in=ids).exclude(fichier="").only("fichier")
    )
    Candidature.objects.filter(pk__in=ids).delete()
    for row in pieces + attachments:
        files.delete_on_commit(row.fichier)

    evaluations = Evaluation.history.model.objects.filter(candidature_id__in=ids)
    Note.history.model.objects.filter(
        evaluation_id__in=models.Subquery(evaluations.values("id"))
    ).delete()
    evaluations.delete()
    ConflitInteret.history.model.objects.filter(candidature_id__in=ids).delete()
    Decision.history.model.objects.filter(candidature_id__in=ids).delete()
    return len(ids)


# ---------------------------------------------------------------------------------------------
# Applicant accounts


def _referenced_anywhere(user_model):
    """A condition true for users that any row of any model points to.

    Built from the model's relations rather than a hand-kept list, so that a foreign key added
    tomorrow (even a SET_NULL one, or a history row's) protects the account by default.
    """
    condition = Q()
    for relation in user_model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and relation.is_relation and not relation.concrete):
            continue
        rows = relation.related_model._base_manager.filter(**{relation.field.name: OuterRef("pk")})
        condition |= Q(Exists(rows))
    return condition


def inactive_applicant_accounts(*, now=None):
    """Applicant accounts to delete: not staff, still active, unused for 12 months, and that
    no row of the database refers to (no access to a dossier, no binôme membership, no
    deposit, journal entry, history row, admin log, group…).

    Deactivated accounts are kept: deactivation is how staff block an address, and deleting
    the account would let the next sign-in request create a fresh, active one.
    """
    now = now or timezone.now()
    cutoff = shift_months(now, -ACCOUNT_INACTIVITY_MONTHS)
    User = get_user_model()
    return (
        User.objects.filter(is_staff=False, is_superuser=False, is_active=True)
        .alias(last_seen=Coalesce("last_login", "date_joined"))
        .filter(last_seen__lt=cutoff)
        .exclude(_referenced_anywhere(User))
    )


@transaction.atomic
def purge_inactive_accounts(*, now=None) -> int:
    """Delete the accounts of ``inactive_applicant_accounts``; return how many.

    Side effects: DELETE of User rows only. The candidates are locked, then checked again:
    a sign-in or an invitation committed meanwhile refers to the account and keeps it, and
    no cascade can ever take a row with it.
    """
    User = get_user_model()
    candidates = list(
        inactive_applicant_accounts(now=now).select_for_update().values_list("pk", flat=True)
    )
    if not candidates:
        return 0
    # Read again once locked: nothing can point to a locked account any more.
    ids = list(
        inactive_applicant_accounts(now=now).filter(pk__in=candidates).values_list("pk", flat=True)
    )
    User.objects.filter(pk__in=ids).delete()
    return len(ids)


# ---------------------------------------------------------------------------------------------
# Submitted dossiers


def end_of_retention(*, closes_at: datetime, last_seance: date | None) -> datetime:
    """When a call's submitted dossiers reach the end of their retention: 5 years after the
    end of its cycle (end of day of the last séance), or after the call's closing when no
    cycle (or no séance) followed it.
    """
    end = end_of_day(last_seance) if last_seance else closes_at
    return shift_months(end, DOSSIER_RETENTION_MONTHS)


def dossiers_past_retention(*, now=None):
    """Submitted dossiers (deposited now, or once before being reopened) whose 5-year
    retention is over, oldest call first. Read only: they are reported to the DPO, never
    deleted here.
    """
    now = now or timezone.now()
    calls = Appel.objects.values("pk", "closes_at").annotate(
        last_seance=models.Max("cycle_qualification__seances__date")
    )
    expired = [
        call["pk"]
        for call in calls
        if end_of_retention(closes_at=call["closes_at"], last_seance=call["last_seance"]) < now
    ]
    deposited = Q(statut=Candidature.Statut.DEPOSEE) | Q(
        Exists(Depot.objects.filter(candidature=OuterRef("pk")))
    )
    return (
        Candidature.objects.filter(appel__in=expired)
        .filter(deposited)
        .select_related("appel", "collectivite")
        .order_by("appel__closes_at", "numero", "collectivite__nom")
    )


# The apps above (the cycle) add their own rules without candidatures importing them: each
# callable is ``fn(now=...) -> dict[str, int]``, run inside ``purge``'s transaction before the
# accounts (their rows may be what keeps an account). ``cycle/apps.py`` registers them.
purgers: list = []


def connect_purger(fn) -> None:
    if fn not in purgers:
        purgers.append(fn)


def purge(*, now=None) -> dict[str, int]:
    """Apply the deletion rules: old sign-in requests, stale drafts, the other apps' rules
    (``purgers``), then inactive accounts.

    Side effects: those of the three ``purge_*`` functions and of the purgers (files removed on
    commit). Drafts and the purgers before accounts: deleting a draft removes the access rows
    that kept its référent·es' accounts. Returns the counts by kind. Submitted dossiers are
    never deleted here.
    """
    now = now or timezone.now()
    counts = {
        "requests": purge_sign_in_requests(now=now),
        "drafts": purge_stale_drafts(now=now),
    }
    for purger in purgers:
        counts.update(purger(now=now))
    counts["accounts"] = purge_inactive_accounts(now=now)
    return counts


@background("Purge des données personnelles (hebdomadaire)")
def purge_personal_data() -> dict[str, int]:
    """The weekly run of ``purge`` (``PERIODIC_TASKS``), in one transaction."""
    with transaction.atomic():
        return purge()
