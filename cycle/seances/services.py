"""Workflows of the cycle's séances: the cycle and its seven séances created from the call.

Same rules as ``candidatures`` services: keyword-only arguments, one transaction each.
"""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from candidatures.appels.models import end_of_day
from candidatures.models import Collectivite
from candidatures.retention import shift_months
from cycle.seances.models import Cycle, Seance

# ---------------------------------------------------------------------------------------------
# The cycle and its seven séances

SEANCES_PAR_CYCLE = 7
INTERVALLE_SEANCES = timedelta(weeks=6)
A_DEFINIR = "À définir"

# The 2021 edition's séances, on real weekdays in the months the call announces (« début
# juillet, fin septembre, début novembre, fin décembre, début février, fin mars »).
DATES_2021 = [
    date(2021, 5, 18),
    date(2021, 7, 6),
    date(2021, 9, 28),
    date(2021, 11, 9),
    date(2021, 12, 14),
    date(2022, 2, 8),
    date(2022, 3, 29),
]

# The day as the call describes it (« Déroulé des séances »).
PROGRAMME_MATIN = (
    "Mise en discussion du journal de bord, puis apport d'expertise, de ressource et débat."
)
PROGRAMME_MATIN_LANCEMENT = (
    "Lancement du cycle : remise du journal de bord à chaque participant·e, partage des "
    "besoins exprimés dans le sondage, puis apport d'expertise, de ressource et débat."
)
PROGRAMME_DEJEUNER = "Déjeuner en commun."
PROGRAMME_APRES_MIDI = "Exercices de mise en situation et d'appropriation des acquis de la matinée."
THEME_LANCEMENT = "Lancement du cycle : les besoins des collectivités participantes"
THEME_CONCLUSION = "Conclusion du cycle et mise en récit des processus de travail"


def seance_dates(first: date) -> list[date]:
    """The seven dates of a cycle starting on ``first``: the 2021 calendar, else 6-week steps."""
    if first == DATES_2021[0]:
        return list(DATES_2021)
    return [first + index * INTERVALLE_SEANCES for index in range(SEANCES_PAR_CYCLE)]


def _host(place: str):
    # The first séance's host is the commune named by the call, when the official list has it.
    if not place:
        return None
    return (
        Collectivite.objects.active()
        .filter(nature=Collectivite.Nature.COMMUNE, nom__iexact=place)
        .first()
    )


@transaction.atomic
def ensure_cycle(appel) -> Cycle:
    """The cycle of ``appel`` with its seven séances, created from the call when missing.

    Idempotent: an existing cycle and existing séances are left exactly as staff edited them;
    only missing séance numbers are added. Refused (ValidationError) when the call has no
    first session date. Side effects: at most one Cycle and seven Seance rows.
    """
    if appel.first_session_date is None:
        raise ValidationError(
            "Indiquez d'abord la date de la première journée du cycle dans l'appel.",
            code="no_first_session",
        )
    cycle, _created = Cycle.objects.get_or_create(
        appel=appel, defaults={"titre": f"Cycle de qualification — {appel.titre}"[:250]}
    )
    existing = set(cycle.seances.values_list("numero", flat=True))
    place = appel.first_session_place or ""
    last = SEANCES_PAR_CYCLE
    new = []
    for numero, day in enumerate(seance_dates(appel.first_session_date), start=1):
        if numero in existing:
            continue
        first = numero == 1
        new.append(
            Seance(
                cycle=cycle,
                numero=numero,
                date=day,
                lieu=(place or A_DEFINIR) if first else A_DEFINIR,
                collectivite_hote=_host(place) if first else None,
                themes=THEME_LANCEMENT if first else THEME_CONCLUSION if numero == last else "",
                programme_matin=PROGRAMME_MATIN_LANCEMENT if first else PROGRAMME_MATIN,
                programme_dejeuner=PROGRAMME_DEJEUNER,
                programme_apres_midi=PROGRAMME_APRES_MIDI,
            )
        )
    Seance.objects.bulk_create(new)
    return cycle


def cycle_is_over(cycle, *, today=None) -> bool:
    """True once the cycle's last séance is held (state « tenue ») or its date has passed."""
    last = cycle.seances.order_by("-numero").first()
    if last is None:
        return False
    today = today or timezone.localdate()
    return last.etat == Seance.Etat.TENUE or last.date < today


def cycles_ended_months_ago(*, months: int, now=None) -> list[int]:
    """Ids of the cycles whose last séance ended (end of day, Paris) more than ``months``
    calendar months before ``now``: the retention rules of the cycle's messages count from
    there. A cycle without any séance has not ended."""
    now = now or timezone.now()
    cycles = Cycle.objects.annotate(last_seance=models.Max("seances__date")).values_list(
        "pk", "last_seance"
    )
    return [
        pk
        for pk, last in cycles
        if last is not None and shift_months(end_of_day(last), months) < now
    ]


def copy_seance_plan(*, source, target, offset) -> str | None:
    """Copy the séance plan of ``source``'s cycle onto the new call ``target``.

    Registered in ``candidatures.appels.hooks.edition_copiers`` (cycle/apps.py) and called by
    ``candidatures.appels.services.prepare_next_edition``, inside its transaction. Side
    effects, when ``source`` has a cycle: one ``Cycle`` for ``target`` (its settings copied,
    its title naming the new call) and one ``Seance`` per séance, each with its number, times,
    place, address, host, themes and programme, its date moved by ``offset``, « prévue ».
    What belongs to last year's séance stays there: its context note (text and file: the
    cron would send them again), its documents, attendance and sendings. Without a cycle,
    nothing: ``ensure_cycle`` plans one later from the new call's first session date.
    """
    cycle = Cycle.objects.filter(appel=source).first()
    if cycle is None:
        return None
    titre = cycle.titre.replace(source.titre, target.titre)
    if titre == cycle.titre:
        titre = f"Cycle de qualification — {target.titre}"
    copy = Cycle.objects.create(
        appel=target,
        titre=titre[:250],
        seances_min_attestation=cycle.seances_min_attestation,
        jours_avant_note=cycle.jours_avant_note,
    )
    seances = Seance.objects.bulk_create(
        Seance(
            cycle=copy,
            numero=seance.numero,
            date=offset.shift_date(seance.date),
            heure_debut=seance.heure_debut,
            heure_fin=seance.heure_fin,
            lieu=seance.lieu,
            adresse=seance.adresse,
            collectivite_hote_id=seance.collectivite_hote_id,
            themes=seance.themes,
            programme_matin=seance.programme_matin,
            programme_dejeuner=seance.programme_dejeuner,
            programme_apres_midi=seance.programme_apres_midi,
        )
        for seance in cycle.seances.order_by("numero")
    )
    if len(seances) > 1:
        return f"le cycle et ses {len(seances)} séances"
    return "le cycle et sa séance" if seances else "le cycle (sans séance)"


# ---------------------------------------------------------------------------------------------
# Participants
