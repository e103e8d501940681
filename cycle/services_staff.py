"""Staff workflows of the cycle: context notes sent before each séance, attendance recorded.

Each function runs in one transaction and is called alike from the admin (actions, custom
views) and from management commands. E-mails leave once the transaction commits.
"""

import mimetypes
import os
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from candidatures.receipt import format_date_fr, paris
from cerdd_ami.emails import build_email, send_on_commit

from .models import EnvoiNoteContexte, MembreBinome, Participant, Presence, Seance

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


@transaction.atomic
def send_context_note(*, seance: Seance, staff_user=None, now=None) -> int:
    """E-mail the séance's context note (text, and its file attached) to every titulaire and
    suppléant·e of every active participant, one message per address.

    Idempotent: an address already logged in EnvoiNoteContexte for this séance is skipped, so
    a second call only reaches people added since. Returns the number of e-mails sent.
    Side effects: EnvoiNoteContexte rows; ``note_envoyee_at`` stamped on the first sending;
    the e-mails, on commit. ``staff_user`` is who asked (None: the scheduled command).
    """
    now = now or timezone.now()
    # Locked: two staff clicks (or the cron and a click) must not both send.
    locked = Seance.objects.select_for_update(of=("self",)).select_related("cycle__appel")
    locked = locked.get(pk=seance.pk)
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
    recipients = [address for address in context_note_recipients(locked) if address not in already]
    if recipients:
        context = _note_context(locked)
        attachment = _attachment(locked)
        appel = locked.cycle.appel
        for address in recipients:
            message = build_email(
                "note_contexte", context, to=[address], reply_to=[appel.contact_email]
            )
            if attachment:
                message.attach(*attachment)
            send_on_commit(message)
        EnvoiNoteContexte.objects.bulk_create(
            [
                EnvoiNoteContexte(seance=locked, destinataire=address, envoye_at=now)
                for address in recipients
            ]
        )
    if locked.note_envoyee_at is None and recipients:
        locked.note_envoyee_at = now
        locked.save(update_fields=["note_envoyee_at"])
    seance.note_envoyee_at = locked.note_envoyee_at
    return len(recipients)


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


def send_due_context_notes(*, now=None, report: Callable[[Seance, int], None] | None = None) -> int:
    """Send every due context note (see ``due_seances``); returns the number of e-mails.

    Idempotent: a séance once sent is stamped and no longer due. ``report(seance, sent)`` is
    called after each séance (the management command prints it).
    """
    now = now or timezone.now()
    total = 0
    for seance in due_seances(now=now):
        sent = send_context_note(seance=seance, now=now)
        total += sent
        if report:
            report(seance, sent)
    return total


# ---------------------------------------------------------------------------------------------
# Attendance

STATUTS = dict(Presence.Statut.choices)


@transaction.atomic
def record_attendance(*, seance: Seance, statuses: dict, staff_user) -> int:
    """Record the attendance of one séance in one go.

    ``statuses`` maps a MembreBinome id to ``(statut, remplacant_id or None)``; a blank statut
    erases that person's record. Every binôme member of an active participant may appear; a
    « remplacé·e » needs a suppléant·e of the same collectivité, any other status none.
    Nothing is saved when one line is wrong: ValidationError maps ``str(membre_id)`` to its
    French message. Returns the number of presences written or erased.
    """
    membres = {
        membre.pk: membre
        for membre in MembreBinome.objects.filter(
            participant__cycle_id=seance.cycle_id,
        ).exclude(participant__statut=Participant.Statut.RETIRE)
    }
    errors: dict[str, str] = {}
    cleaned: dict[int, tuple[str, int | None]] = {}
    for raw_id, (statut, remplacant_id) in statuses.items():
        try:
            membre_id = int(raw_id)
        except (TypeError, ValueError):
            errors[str(raw_id)] = "Personne inconnue."
            continue
        membre = membres.get(membre_id)
        if membre is None:
            errors[str(membre_id)] = "Cette personne ne fait pas partie d'un binôme du cycle."
            continue
        statut = statut or ""
        try:
            remplacant_id = int(remplacant_id) if remplacant_id not in (None, "") else None
        except (TypeError, ValueError):
            remplacant_id = -1  # tampered: refused below as not one of the suppléant·es
        if statut and statut not in STATUTS:
            errors[str(membre_id)] = f"Statut inconnu pour {membre.nom}."
        elif statut == Presence.Statut.REMPLACE and remplacant_id is None:
            errors[str(membre_id)] = (
                f"{membre.nom} est indiqué·e « remplacé·e » : choisissez qui l'a remplacé·e."
            )
        elif statut != Presence.Statut.REMPLACE and remplacant_id is not None:
            errors[str(membre_id)] = (
                f"Un·e remplaçant·e n'est possible pour {membre.nom} qu'avec le statut "
                "« remplacé·e »."
            )
        elif remplacant_id is not None:
            remplacant = membres.get(remplacant_id)
            if (
                remplacant is None
                or remplacant.participant_id != membre.participant_id
                or remplacant.titulaire
                or remplacant.pk == membre.pk
            ):
                errors[str(membre_id)] = (
                    f"{membre.nom} ne peut être remplacé·e que par un·e suppléant·e de sa "
                    "collectivité."
                )
        if str(membre_id) not in errors:
            cleaned[membre_id] = (statut, remplacant_id)
    if errors:
        raise ValidationError(errors)

    existing = {p.membre_id: p for p in Presence.objects.filter(seance=seance, membre__in=cleaned)}
    now = timezone.now()
    changed = 0
    erase = [pk for pk, (statut, _) in cleaned.items() if not statut and pk in existing]
    if erase:
        Presence.objects.filter(seance=seance, membre__in=erase).delete()
        changed += len(erase)
    for membre_id, (statut, remplacant_id) in cleaned.items():
        if not statut:
            continue
        current = existing.get(membre_id)
        if current and (current.statut, current.remplacant_id) == (statut, remplacant_id):
            continue
        Presence.objects.update_or_create(
            seance=seance,
            membre_id=membre_id,
            defaults={
                "statut": statut,
                "remplacant_id": remplacant_id,
                "recorded_at": now,
                "recorded_by": staff_user,
            },
        )
        changed += 1
    return changed
