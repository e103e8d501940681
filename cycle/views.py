"""The participant space's home page: it gathers each participation's séances and who comes to
the next one (attendance), so it sits above the sub-packages it reads."""

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from cycle.participants.models import MembreBinome, Participant
from cycle.presences.models import Presence
from cycle.seances.models import Seance


@login_required
def espace(request):
    """My participations, the calendar of each cycle, and who comes to the next séance."""
    participations = list(
        Participant.objects.of_user(request.user).select_related(
            "cycle__appel", "candidature__collectivite"
        )
    )
    cycle_ids = {p.cycle_id for p in participations}
    # One query for the séances and one for the people of every cycle, however many there are.
    now = timezone.now()
    seances = defaultdict(list)
    for seance in Seance.objects.filter(cycle_id__in=cycle_ids).select_related("collectivite_hote"):
        seance.a_eu_lieu = seance.has_started(now)
        seances[seance.cycle_id].append(seance)
    prochaines = {
        cycle_id: Seance.next_after(cycle_seances, now)
        for cycle_id, cycle_seances in seances.items()
    }
    # Who comes next time: the titulaires of the confirmed binômes, except those recorded as
    # excusé·e for that séance; a titulaire recorded as replaced gives way to their suppléant·e.
    excuses, remplacants = set(), {}
    for seance_id, membre_id, statut, remplacant_id in Presence.objects.filter(
        seance__in=[s for s in prochaines.values() if s is not None],
        statut__in=[Presence.Statut.EXCUSE, Presence.Statut.REMPLACE],
    ).values_list("seance_id", "membre_id", "statut", "remplacant_id"):
        excuses.add((seance_id, membre_id))
        if statut == Presence.Statut.REMPLACE:
            remplacants[(seance_id, remplacant_id)] = True
    venants = defaultdict(dict)
    membres = (
        MembreBinome.objects.filter(
            participant__cycle_id__in=cycle_ids,
            participant__statut=Participant.Statut.CONFIRME,
        )
        .select_related("participant__candidature__collectivite")
        .order_by("participant__candidature__collectivite__nom", "-titulaire", "role", "nom")
    )
    for membre in membres:
        prochaine = prochaines.get(membre.participant.cycle_id)
        seance_id = prochaine.pk if prochaine else None
        if membre.titulaire:
            if (seance_id, membre.pk) in excuses:
                continue
        elif (seance_id, membre.pk) not in remplacants:
            continue
        collectivite = membre.participant.candidature.collectivite
        venants[membre.participant.cycle_id].setdefault(collectivite, []).append(membre)

    cycles = []
    for participant in participations:
        if any(block["cycle"].pk == participant.cycle_id for block in cycles):
            next(b for b in cycles if b["cycle"].pk == participant.cycle_id)[
                "participations"
            ].append(participant)
            continue
        cycle_seances = seances[participant.cycle_id]
        cycles.append(
            {
                "cycle": participant.cycle,
                "participations": [participant],
                "seances": cycle_seances,
                "prochaine": prochaines.get(participant.cycle_id),
                "venants": list(venants[participant.cycle_id].items()),
            }
        )
    return render(request, "cycle/espace.html", {"cycles": cycles})
