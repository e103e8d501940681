"""Workflows of the jury: conflicts of interest, assignments, scoring, closing and reopening
the scoring, deliberation, reminders.

Each function runs in one transaction, takes keyword-only arguments and is the only way its
status change happens; e-mails are sent with ``transaction.on_commit``.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from candidatures.appels.models import Appel
from candidatures.dossiers.models import Candidature
from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import de_nom
from cerdd_ami.tasks import background, enqueue

from .models import (
    Affectation,
    ConflitInteret,
    Evaluation,
    MembreJury,
    Note,
    RappelJury,
    Recommandation,
)


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


class ReminderNotSent(Exception):
    """A juror's reminder could not be sent: the worker retries the task."""


@transaction.atomic
def send_jury_reminders(*, appel, staff_user) -> int:
    """Remind each juror who still has dossiers to score. Returns how many were reminded.

    Side effects, in one transaction: one RappelJury (« à envoyer », the dossiers left) per
    juror with work left, and for each the task ``send_jury_reminder`` enqueued (it exists if
    and only if this commits); the worker sends the e-mails. Refused while jurors cannot score
    (before the deadline, after the scoring is closed).
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
        rappel = RappelJury.objects.create(
            appel=appel, jure=juror, destinataire=juror.email, restants=left
        )
        enqueue(send_jury_reminder, rappel_id=rappel.pk)
        reminded += 1
    return reminded


def _reminder_email(rappel):
    context = {
        "juror": rappel.jure,
        "appel": rappel.appel,
        "left": rappel.restants,
        "url": site_url(reverse("admin:candidatures_dossierjury_changelist")),
        "closes": rappel.appel.notation_close_at,
    }
    return build_email("rappel_jury", context, to=[rappel.destinataire])


@background("Rappel à un·e juré·e")
def send_jury_reminder(*, rappel_id: int) -> bool:
    """Send one juror's reminder and record the attempt on its RappelJury; safe to run twice.

    The row stays locked while the mail server answers; a reminder already « envoyé » (or
    being sent by another worker) is skipped and False returned. Raises ReminderNotSent when
    the mail server refused it: the worker retries the task with back-off.
    """
    with transaction.atomic():
        rappel = (
            RappelJury.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("appel", "jure")
            .exclude(statut=RappelJury.Statut.ENVOYE)
            .filter(pk=rappel_id)
            .first()
        )
        if rappel is None:
            return False
        sent = rappel.attempt(lambda: _reminder_email(rappel), now=timezone.now())
    if not sent:
        raise ReminderNotSent(f"{rappel.destinataire} : {rappel.erreur}")
    return True


# ---------------------------------------------------------------------------------------------
# Décisions
