"""Attendance recorded by staff for one séance, in one transaction."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cycle.participants.models import MembreBinome, Participant
from cycle.presences.models import Presence
from cycle.seances.models import Seance

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
