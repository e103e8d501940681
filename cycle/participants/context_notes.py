"""Context notes sent before each séance to every binôme member of the active participants.

Each function is called alike from the admin (actions, custom views) and from management
commands. Context notes are logged per recipient and committed, then each e-mail is sent and
its outcome recorded, so that a failure is retried by the next run instead of being lost in a
log (as the decision letters are).
"""

import dataclasses
import mimetypes
import os
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cerdd_ami.emails import build_email
from cerdd_ami.formats import format_date_fr, paris
from cerdd_ami.tasks import background
from cycle.participants.models import MembreBinome, Participant
from cycle.seances.models import EnvoiNoteContexte, Seance

# ---------------------------------------------------------------------------------------------
# Context notes


def has_context_note(seance: Seance) -> bool:
    return bool(seance.note_contexte.strip() or seance.note_contexte_fichier)


def context_note_recipients(seance: Seance) -> list[str]:
    """Every titulaire's and suppléant·e's address among the active participants, once each
    (compared case-insensitively), in a stable order."""
    emails = (
        MembreBinome.objects.filter(
            participant__cycle_id=seance.cycle_id,
        )
        .exclude(participant__statut=Participant.Statut.RETIRE)
        .order_by("participant__candidature__collectivite__nom", "-titulaire", "role", "pk")
    )
    seen: dict[str, None] = {}
    for email in emails.values_list("email", flat=True):
        address = (email or "").strip().lower()
        if address:
            seen.setdefault(address, None)
    return list(seen)


def _note_context(seance: Seance) -> dict:
    appel = seance.cycle.appel
    return {
        "seance": seance,
        "cycle_titre": seance.cycle.titre,
        "date": format_date_fr(seance.date),
        "heure_debut": f"{seance.heure_debut.hour} h {seance.heure_debut.minute:02d}",
        "heure_fin": f"{seance.heure_fin.hour} h {seance.heure_fin.minute:02d}",
        "lieu": seance.lieu,
        "adresse": seance.adresse,
        "themes": seance.themes,
        "note": seance.note_contexte.strip(),
        "fichier_joint": bool(seance.note_contexte_fichier),
        "contact_nom": appel.contact_nom,
        "contact_email": appel.contact_email,
        "site_url": getattr(settings, "SITE_URL", ""),
    }


def _attachment(seance: Seance) -> tuple[str, bytes, str] | None:
    field = seance.note_contexte_fichier
    if not field:
        return None
    with field.open("rb") as handle:
        data = handle.read()
    name = os.path.basename(field.name)
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, data, mime


@dataclasses.dataclass
class NoteSending:
    """What one sending of a séance's note did: e-mails sent by this call, and the envois
    still « échec » afterwards (retried by the next call or run of the command)."""

    seance: Seance
    sent: int = 0
    failures: list[EnvoiNoteContexte] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


def _queue_context_note(seance: Seance) -> None:
    """One EnvoiNoteContexte « à envoyer » per recipient not logged yet for this séance."""
    with transaction.atomic():
        # Locked: two staff clicks (or the cron and a click) queue each address once.
        locked = Seance.objects.select_for_update(of=("self",)).get(pk=seance.pk)
        if not has_context_note(locked):
            raise ValidationError(
                f"La séance {locked.numero} n'a pas de note de contexte : rédigez-la ou joignez "
                "un fichier avant de l'envoyer.",
                code="no_note",
            )
        already = {
            address.lower()
            for address in EnvoiNoteContexte.objects.filter(seance=locked).values_list(
                "destinataire", flat=True
            )
        }
        EnvoiNoteContexte.objects.bulk_create(
            [
                EnvoiNoteContexte(seance=locked, destinataire=address)
                for address in context_note_recipients(locked)
                if address not in already
            ],
            ignore_conflicts=True,
        )


def _send_note_envoi(envoi_id: int, message_for: Callable[[str], object], *, now) -> bool | None:
    """Send one context note e-mail and record the attempt; True sent, False failed, None
    skipped (sent already, or being sent by a concurrent run that holds the row)."""
    with transaction.atomic():
        envoi = (
            EnvoiNoteContexte.objects.select_for_update(skip_locked=True)
            .exclude(statut=EnvoiNoteContexte.Statut.ENVOYE)
            .filter(pk=envoi_id)
            .first()
        )
        if envoi is None:
            return None
        return envoi.attempt(lambda: message_for(envoi.destinataire), now=now)


def _send_pending_notes(seance: Seance, *, now) -> NoteSending:
    """E-mail every envoi of the séance not « envoyé » yet, each in its own transaction."""
    seance = Seance.objects.select_related("cycle__appel").get(pk=seance.pk)
    pending = EnvoiNoteContexte.objects.filter(seance=seance).exclude(
        statut=EnvoiNoteContexte.Statut.ENVOYE
    )
    report = NoteSending(seance=seance)
    ids = list(pending.order_by("pk").values_list("pk", flat=True))
    if ids:
        context = _note_context(seance)
        attachment = _attachment(seance)
        reply_to = [seance.cycle.appel.contact_email]

        def message_for(address):
            message = build_email("note_contexte", context, to=[address], reply_to=reply_to)
            if attachment:
                message.attach(*attachment)
            return message

        for envoi_id in ids:
            report.sent += bool(_send_note_envoi(envoi_id, message_for, now=now))
    if report.sent:
        # The first e-mail actually sent stamps the séance: its note is no longer due.
        Seance.objects.filter(pk=seance.pk, note_envoyee_at__isnull=True).update(
            note_envoyee_at=now
        )
    report.failures = list(
        pending.filter(statut=EnvoiNoteContexte.Statut.ECHEC).order_by("destinataire")
    )
    return report


def deliver_context_note(*, seance: Seance, staff_user=None, now=None) -> NoteSending:
    """E-mail the séance's context note (text, and its file attached) to every titulaire and
    suppléant·e of every active participant, one message per address, and retry the ones that
    failed before.

    Call it outside a transaction: the recipients are logged (EnvoiNoteContexte « à envoyer »)
    and committed first, then each e-mail is sent and its outcome recorded (« envoyé », or
    « échec » with the error; attempts counted). Idempotent: an address « envoyé » for this
    séance is never e-mailed again, so a second call only reaches people added since and the
    failures. ``note_envoyee_at`` is stamped by the first e-mail actually sent.
    ``staff_user`` is who asked (None: the scheduled command).
    """
    now = now or timezone.now()
    _queue_context_note(seance)
    report = _send_pending_notes(seance, now=now)
    seance.note_envoyee_at = Seance.objects.values_list("note_envoyee_at", flat=True).get(
        pk=seance.pk
    )
    return report


def send_context_note(*, seance: Seance, staff_user=None, now=None) -> int:
    """``deliver_context_note``, returning only the number of e-mails sent by this call."""
    return deliver_context_note(seance=seance, staff_user=staff_user, now=now).sent


def due_seances(*, now=None):
    """Séances whose note should leave now: never sent, a note written or attached, and the
    séance (not past) within its cycle's ``jours_avant_note`` days, counted in Paris."""
    now = now or timezone.now()
    today = paris(now).date()
    candidates = (
        Seance.objects.filter(note_envoyee_at__isnull=True, date__gte=today)
        .select_related("cycle")
        .order_by("date", "cycle_id", "numero")
    )
    return [
        seance
        for seance in candidates
        if seance.date <= today + timedelta(days=seance.cycle.jours_avant_note)
        and has_context_note(seance)
    ]


def seances_to_retry(*, now=None):
    """Séances not past (in Paris) with a context note e-mail not sent yet (failed, or
    interrupted before it was attempted)."""
    now = now or timezone.now()
    today = paris(now).date()
    pending = EnvoiNoteContexte.objects.exclude(statut=EnvoiNoteContexte.Statut.ENVOYE)
    seances = (
        Seance.objects.filter(date__gte=today, pk__in=pending.values("seance_id"))
        .select_related("cycle")
        .order_by("date", "cycle_id", "numero")
    )
    return [seance for seance in seances if has_context_note(seance)]


def send_due_context_notes(
    *, now=None, report: Callable[[NoteSending], None] | None = None
) -> list[NoteSending]:
    """Send every due context note (see ``due_seances``) and retry the failed e-mails of
    séances not past (see ``seances_to_retry``); one NoteSending per séance.

    Idempotent: a séance once sent is stamped and no longer due, an e-mail once sent is never
    sent again. ``report(sending)`` is called after each séance (the command prints it).
    """
    now = now or timezone.now()
    sendings = []
    due = due_seances(now=now)
    due_ids = {seance.pk for seance in due}
    for seance in due:
        sendings.append(deliver_context_note(seance=seance, now=now))
        if report:
            report(sendings[-1])
    for seance in seances_to_retry(now=now):
        if seance.pk in due_ids:
            continue
        sendings.append(_send_pending_notes(seance, now=now))
        if report:
            report(sendings[-1])
    return sendings


# The worker's hourly run sends nothing before this hour in Paris: a note due « N days before »
# leaves in the morning of that day, not at midnight.
CONTEXT_NOTES_FROM_HOUR = 7


@background("Notes de contexte avant les séances (toutes les heures)")
def send_context_notes() -> dict:
    """The worker's periodic run of ``send_due_context_notes`` (``PERIODIC_TASKS``), from
    CONTEXT_NOTES_FROM_HOUR in Paris; idempotent as that function is. Failed e-mails are
    recorded on their EnvoiNoteContexte and retried by the next run."""
    now = timezone.now()
    if paris(now).hour < CONTEXT_NOTES_FROM_HOUR:
        return {"seances": 0, "envoyes": 0, "echecs": 0}
    sendings = send_due_context_notes(now=now)
    return {
        "seances": len(sendings),
        "envoyes": sum(sending.sent for sending in sendings),
        "echecs": sum(sending.failed for sending in sendings),
    }
