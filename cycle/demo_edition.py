"""Demo data of the edition whose cycle is running: a call decided months ago, built relative
to the day the demo is first loaded, so that its séances straddle today (four held, with their
attendance and journal, three to come). The 2021 edition keeps its real calendar: its cycle is
over.

Dates follow the day of the first run and are kept afterwards (the call is found again by its
slug), like the recent call's. Idempotent: every step leaves what exists alone.
"""

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from candidatures.appels.seed import appel_texts, ensure_criteres
from candidatures.decisions import publication
from candidatures.decisions.demo import seed_decisions
from candidatures.dossiers.demo import seed_candidatures
from candidatures.jury import services as jury_services
from candidatures.jury.demo import seed_jury
from candidatures.models import Appel, Decision
from candidatures.questionnaires.demo import ensure_questionnaire
from cycle.seances.models import PARIS

SLUG = "cycle-en-cours"
# Séances six weeks apart (cycle.seances.services.seance_dates), on Tuesdays: the first one 18 weeks
# and 1 to 7 days before the first run, so that séances 1–4 are held (the last one 1 to 7 days
# ago) and 5–7 to come.
FIRST_SEANCE_WEEKS_AGO = 18
# The same steps as the open call's calendar: answers 34 days after the deadline, first séance
# 33 days after the answers.
ANSWERS_AFTER_DEADLINE = timedelta(days=34)
FIRST_SEANCE_AFTER_ANSWERS = timedelta(days=33)
# Jurors submit 3 to 20 days after the deadline day (demo_jury.SCORED_WITHIN_2021); scoring
# closes the day after, deliberation opens four days later, decisions a week before the answers.
SCORING_CLOSED_AFTER_DEADLINE = timedelta(days=21, hours=18)
DELIBERATION_AFTER_DEADLINE = timedelta(days=25, hours=9, minutes=30)
PLACES = 6
MOIS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]

# Eight territories new to the demo (none applies to another of its calls): few, because each
# submitted dossier costs seed_demo three PDFs (letter, receipt, decision letter).
DOSSIERS = [
    ("59271", "deposee"),  # Grande-Synthe
    ("59249", "deposee"),  # Fourmies
    ("59122", "deposee"),  # Cambrai
    ("62178", "deposee"),  # Bruay-la-Buissière
    ("62108", "deposee"),  # Berck
    ("60157", "deposee"),  # Clermont
    ("60395", "deposee"),  # Méru
    ("80253", "deposee"),  # Doullens
]


def first_seance_for(today: date) -> date:
    """The last Tuesday before ``today`` minus ``FIRST_SEANCE_WEEKS_AGO`` weeks."""
    day = today - timedelta(weeks=FIRST_SEANCE_WEEKS_AGO, days=1)
    return day - timedelta(days=(day.weekday() - 1) % 7)


def ensure_appel_en_cours(today=None) -> Appel:
    """The edition whose cycle runs today (created once, then found again by its slug)."""
    appel = Appel.objects.filter(slug=SLUG).first()
    if appel is not None:
        ensure_questionnaire(appel)
        return appel
    today = today or timezone.localdate()
    first = first_seance_for(today)
    announcement = datetime.combine(first - FIRST_SEANCE_AFTER_ANSWERS, time(9), tzinfo=PARIS)
    deadline = announcement.date() - ANSWERS_AFTER_DEADLINE
    closes = datetime.combine(deadline, time(23, 59, 59), tzinfo=PARIS)
    appel = Appel.objects.create(
        slug=SLUG,
        titre=(
            "Vers des territoires participatifs en Hauts-de-France — "
            f"{deadline.year}, session de {MOIS[deadline.month - 1]}"
        ),
        prefixe_numero=f"AMI-{deadline:%Y%m}",
        est_publie=True,
        opens_at=datetime.combine(deadline - timedelta(days=90), time(0), tzinfo=PARIS),
        closes_at=closes,
        announcement_at=announcement,
        first_session_date=first,
        first_session_place="Loos-en-Gohelle",
        places=PLACES,
        **appel_texts(),
    )
    ensure_criteres(appel)
    ensure_questionnaire(appel)
    return appel


# The letters' e-mails wait, « à envoyer », as for 2021: the demo mails nobody.
@override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}})
def seed_edition_en_cours(*, staff_user) -> Appel:
    """The running edition up to its published decisions: eight dossiers submitted, scored by the
    whole jury, scoring closed and deliberation opened at their dates, six retained and two
    on the waiting list, published on the announcement date (letters filed, not e-mailed).
    The cycle itself is seeded by ``cycle.demo.seed_cycle``. Must run outside a transaction:
    publishing commits step by step."""
    appel = ensure_appel_en_cours()
    seed_candidatures(appel, staff_user=staff_user, dossiers=DOSSIERS)
    deadline = timezone.localtime(appel.closes_at, PARIS).replace(hour=0, minute=0, second=0)
    with transaction.atomic():
        seed_jury(appel, staff_user=staff_user)
        jury_services.close_scoring(
            appel=appel, staff_user=staff_user, now=deadline + SCORING_CLOSED_AFTER_DEADLINE
        )
        jury_services.open_deliberation(
            appel=appel, staff_user=staff_user, now=deadline + DELIBERATION_AFTER_DEADLINE
        )
        seed_decisions(appel, staff_user=staff_user)
    if Decision.objects.filter(candidature__appel=appel, published_at__isnull=True).exists():
        publication.publish_decisions(
            appel=appel, now=appel.announcement_at, staff_user=staff_user, send=False
        )
    return appel
