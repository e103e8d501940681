"""Demo jury for seed_demo: the same seven jurors on two calls, their conflicts and évaluations.

The 2021 call is decided: every juror scored every dossier they may see (mode « tous »), then
the chargé·e closed the scoring and opened the deliberation, before the decisions
(``close_2021_scoring``). The recent call is being scored: ``RECENT_PLAN`` says how far each
juror got (jury1, the newcomer's login, has drafts and most dossiers still to score; jury7 has
not started, for the reminders), and jury3 has a conflict (Achicourt, in the CU d'Arras).

Scores are pseudo-random but deterministic: a base quality per dossier (so that the ranking
means something), a severity per juror (some are harsher than others) and noise seeded per
(juror, dossier). Dunkerque splits the 2021 jury.

Everything goes through ``services`` (the rules apply); an évaluation that exists is left
alone, so running seed_demo again changes nothing. One exception, while the 2021 scoring is
still open (a database seeded before it closed): drafts left on 2021 are completed, since its
scoring closes right after.
"""

import random
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from candidatures.appels.models import Collectivite
from candidatures.dossiers.models import Candidature
from candidatures.jury import services as jury_services
from cerdd_ami.models import User

from .models import ConflitInteret, Evaluation, MembreJury, Recommandation

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

# (e-mail, qualité, collectivité d'appartenance (INSEE or SIREN) or "", severity).
# Severity shifts the juror's scores, as a fraction of the scale: < 0 harsher, > 0 more generous.
JURY = [
    ("jury1@cerdd.test", "Chercheuse en sciences politiques, Université de Lille", "", -0.12),
    ("jury2@cerdd.test", "Consultant en concertation", "", 0.02),
    (
        "jury3@cerdd.test",
        "Chargée de mission participation citoyenne, Communauté urbaine d'Arras",
        "200033579",  # CU d'Arras: conflicts with Arras and with the CU itself
        0.05,
    ),
    ("jury4@cerdd.test", "Élu d'une commune rurale de l'Aisne", "", 0.12),
    ("jury5@cerdd.test", "Directrice d'une association d'éducation populaire", "", -0.03),
    ("jury6@cerdd.test", "Agent de la DREAL Hauts-de-France", "", -0.08),
    ("jury7@cerdd.test", "Représentante du SIILAB, laboratoire d'innovation publique", "", 0.07),
]

DECLARED_CONFLICTS = [
    (
        "jury5@cerdd.test",
        "59350",  # Lille
        "J'ai accompagné la Ville de Lille sur son budget participatif en 2020.",
    ),
]

# The recent call, scoring open: (submitted, drafts) per juror, counted along the dossiers the
# juror may see in numero order, turned by two places per juror (so that every dossier has
# some évaluations); the rest is not started.
RECENT_PLAN = {
    "jury1@cerdd.test": (4, 2),
    "jury2@cerdd.test": (15, 0),
    "jury3@cerdd.test": (14, 0),  # sees 14: Achicourt is in the CU d'Arras
    "jury4@cerdd.test": (10, 1),
    "jury5@cerdd.test": (12, 0),
    "jury6@cerdd.test": (7, 3),
    "jury7@cerdd.test": (0, 0),
}

# The 2021 jury met on the 6th of April 2021: scoring closed the Friday before, deliberation
# opened on the day; the decisions follow on the 8th (demo_decisions).
SCORING_CLOSED_2021 = datetime(2021, 4, 2, 18, 0, tzinfo=PARIS)
DELIBERATION_2021 = datetime(2021, 4, 6, 9, 30, tzinfo=PARIS)
# Days after the deadline day during which jurors submit: 2021 before its closing (2 April),
# the recent call before the day seed_demo runs.
SCORED_WITHIN_2021 = (3, 20)
SCORED_WITHIN_RECENT = (1, 19)

# Base quality of each submitted dossier, from 0 (weak) to 1 (excellent).
QUALITY = {
    "62528": 0.93,  # Loos-en-Gohelle: a pioneer of participation
    "200033579": 0.70,  # CU d'Arras
    "62041": 0.62,  # Arras
    "59350": 0.82,  # Lille
    "200093201": 0.52,  # Métropole Européenne de Lille
    "59183": 0.60,  # Dunkerque: the jury splits, see DISAGREEMENT
    "59606": 0.48,  # Valenciennes
    "59599": 0.67,  # Tourcoing
    "59512": 0.77,  # Roubaix
    "80021": 0.60,  # Amiens
    "80001": 0.44,  # Abbeville
    "200070993": 0.38,  # CA de la Baie de Somme
    "60057": 0.57,  # Beauvais
    "60159": 0.34,  # Compiègne
    "60175": 0.73,  # Creil
    "02691": 0.50,  # Saint-Quentin
    "02408": 0.30,  # Laon
    "02722": 0.66,  # Soissons
    "62193": 0.41,  # Calais
    "62160": 0.55,  # Boulogne-sur-Mer
    "62765": 0.69,  # Saint-Omer
    "62498": 0.79,  # Lens
    "59392": 0.24,  # Maubeuge
    "62119": 0.61,  # Béthune
}
QUALITY_RECENT = {
    "62004": 0.72,  # Achicourt
    "59009": 0.85,  # Villeneuve-d'Ascq
    "62065": 0.55,  # Avion
    "80016": 0.47,  # Albert
    "59392": 0.58,  # Maubeuge: a better dossier than in 2021
    "200043396": 0.64,  # CA Maubeuge Val de Sambre
    "60088": 0.35,  # Bornel
    "02810": 0.52,  # Villers-Cotterêts
    "62427": 0.66,  # Hénin-Beaumont
    "62893": 0.78,  # Wimereux
    "59017": 0.61,  # Armentières
    "02381": 0.42,  # Hirson
    "60612": 0.74,  # Senlis
    "02408": 0.45,  # Laon
    "62510": 0.69,  # Liévin
}
# Critère 4 (the binôme) is an explicit commitment of the form: scored a little higher.
CRITERE_BIAS = {1: 0.0, 2: 0.03, 3: -0.05, 4: 0.08}

# Dunkerque: half the jury finds it exemplary, the other half thinks the cycle should go to
# territories that are beginning. Stance per juror: "pour", "contre" or absent (own scores).
DISAGREEMENT_CODE = "59183"
DISAGREEMENT = {
    "jury2@cerdd.test": "pour",
    "jury4@cerdd.test": "pour",
    "jury7@cerdd.test": "pour",
    "jury1@cerdd.test": "contre",
    "jury5@cerdd.test": "contre",
    "jury6@cerdd.test": "contre",
}
DISAGREEMENT_TEXTS = {
    "pour": (
        "Dunkerque a une vraie culture de la participation (démarches de transition co-construites "
        "avec les habitant·es) : la ville tirera le groupe vers le haut et pourra accueillir une "
        "séance.",
        "Le jury a apprécié la maturité de votre démarche participative et ce que votre expérience "
        "pourra apporter aux autres collectivités du cycle.",
    ),
    "contre": (
        "Collectivité déjà très outillée et accompagnée : le cycle devrait profiter en priorité "
        "aux territoires qui débutent. Lettre très institutionnelle, on ne voit ni les habitant·es "
        "ni ce que la ville attend du cycle.",
        "Le jury reconnaît l'expérience de votre ville en matière de participation, mais votre "
        "dossier n'explique pas ce que le cycle vous apporterait ni ce que vous y apporteriez.",
    ),
}

# Comments per critère (ordre) and level: "bas" (< 40 %), "moyen", "haut" (≥ 75 %).
COMMENTS = {
    1: {
        "haut": [
            "Plan Climat adopté et démarches concrètes (alimentation, rénovation) : la transition "
            "est déjà structurée.",
            "Dynamique de transition solide, clairement portée par l'exécutif.",
        ],
        "moyen": [
            "Des actions intéressantes mais encore ponctuelles, sans stratégie d'ensemble.",
            "Intention réelle ; le Plan Climat est en cours d'élaboration.",
        ],
        "bas": [
            "Peu d'éléments sur la démarche de transition du territoire.",
            "La transition est évoquée sans action concrète.",
        ],
    },
    2: {
        "haut": [
            "Posture d'apprentissage très claire : la collectivité dit ce qu'elle ne sait pas "
            "encore faire.",
            "Attentes précises et motivation forte de l'élu·e référent·e.",
        ],
        "moyen": [
            "Motivation réelle mais attentes assez générales.",
            "On sent l'envie, moins le cap.",
        ],
        "bas": [
            "Motivation formelle : le dossier ressemble à une réponse type.",
            "Peu d'attentes exprimées vis-à-vis du cycle.",
        ],
    },
    3: {
        "haut": [
            "Lettre convaincante sur la place des habitant·es dans les décisions, avec des "
            "exemples vécus.",
            "Apport au groupe évident : une expérience de budget participatif à partager.",
        ],
        "moyen": [
            "La lettre parle de la place de la participation, peu de ce que la collectivité "
            "apportera au cycle.",
            "Objectifs cités, exemples rares.",
        ],
        "bas": [
            "La lettre ne dit presque rien de la démocratie participative.",
            "Confusion entre information des habitant·es et participation.",
        ],
    },
    4: {
        "haut": [
            "Binôme identifié et engagé, suppléance prévue.",
            "Élu·e et technicien·ne nommé·es, dates des séances déjà bloquées d'après la lettre.",
        ],
        "moyen": [
            "Binôme identifié mais disponibilité de l'élu·e incertaine.",
            "Le ou la technicien·ne semble seul·e à porter le dossier.",
        ],
        "bas": [
            "Pas de garantie sur la présence de l'élu·e.",
            "Un·e seul·e référent·e réellement identifié·e.",
        ],
    },
}
# What the letter may quote: the critère the juror liked best, and the one to work on.
FORCES = {
    1: "votre engagement déjà structuré dans la transition",
    2: "la motivation et l'humilité qui ressortent de votre dossier",
    3: "la place que vous donnez aux habitant·es dans vos projets",
    4: "l'engagement clair d'un binôme élu·e / technicien·ne",
}
AXES = {
    1: "préciser les démarches de transition sur lesquelles la participation s'appuiera",
    2: "formuler plus précisément ce que vous attendez du cycle",
    3: "expliciter ce que vous pourriez apporter aux autres collectivités du groupe",
    4: "garantir la présence de l'élu·e référent·e à chaque séance",
}
PRIVATE_COMMENTS = {
    Recommandation.RETENIR: [
        "Dossier solide, à retenir sans hésiter.",
        "Bonne complémentarité avec les autres candidatures du département.",
        "L'élue référente est très investie ; équipe technique stable.",
    ],
    Recommandation.LISTE_ATTENTE: [
        "Hésitation entre retenir et liste d'attente : à discuter en délibération.",
        "Territoire peu représenté dans le groupe, ce qui plaide pour lui.",
        "Lettre manifestement rédigée par un bureau d'études ; le fond reste intéressant.",
    ],
    Recommandation.NE_PAS_RETENIR: [
        "Dossier trop fragile pour cette édition ; à encourager pour la suivante.",
        "Candidature opportuniste à mon sens : peu de lien avec le projet de mandat.",
    ],
}


def _code(collectivite):
    return collectivite.insee or collectivite.siren


def _collectivite(code):
    if len(code) == 9:
        return Collectivite.objects.get(siren=code)
    return Collectivite.objects.get(insee=code)


def _quality(dossier):
    code = _code(dossier.collectivite)
    quality = QUALITY if dossier.appel.slug == "2021" else QUALITY_RECENT
    if code in quality:
        return quality[code]
    return random.Random(f"qualite-{dossier.numero}").uniform(0.3, 0.85)  # noqa: S311


def _level(fraction):
    if fraction >= 0.75:
        return "haut"
    if fraction < 0.4:
        return "bas"
    return "moyen"


def _recommendation(notes):
    """Consistent with the juror's own scores: their weighted mean on 20."""
    weights = sum(critere.poids for critere in notes)
    mean = sum(
        critere.poids * Decimal(value) / critere.note_max for critere, value in notes.items()
    )
    on_20 = mean / weights * 20
    if on_20 >= 13:
        return Recommandation.RETENIR
    if on_20 >= 9.5:
        return Recommandation.LISTE_ATTENTE
    return Recommandation.NE_PAS_RETENIR


def _scores(juror_email, severity, dossier, criteres, rng):
    disagreement = dossier.appel.slug == "2021" and _code(dossier.collectivite) == DISAGREEMENT_CODE
    stance = DISAGREEMENT.get(juror_email) if disagreement else ""
    impression = rng.gauss(0, 0.07)  # the juror's overall feeling about this dossier
    values = {}
    for critere in criteres:
        if stance == "pour":
            fraction = rng.choice([0.75, 1, 1, 1])
        elif stance == "contre":
            fraction = rng.choice([0, 0.1, 0.25, 0.25])
        else:
            fraction = (
                _quality(dossier)
                + severity
                + impression
                + CRITERE_BIAS.get(critere.ordre, 0)
                + rng.gauss(0, 0.1)
            )
        values[critere] = min(max(round(fraction * critere.note_max), 0), critere.note_max)
    return values, stance


def _evaluation_content(juror_email, severity, dossier, criteres, scored_within):
    rng = random.Random(f"{juror_email}-{dossier.numero}")  # noqa: S311 - demo data only
    values, stance = _scores(juror_email, severity, dossier, criteres, rng)
    notes = {}
    for critere, value in values.items():
        comment = ""
        if rng.random() < 0.35 and critere.ordre in COMMENTS:
            comment = rng.choice(COMMENTS[critere.ordre][_level(value / critere.note_max)])
        notes[critere] = (value, comment)
    recommandation = _recommendation(values)
    ranked = sorted(criteres, key=lambda c: (values[c] / c.note_max, -c.ordre))
    best, worst = ranked[-1], ranked[0]
    force = FORCES.get(best.ordre, "la sincérité de votre candidature")
    axe = AXES.get(worst.ordre, "préciser votre projet participatif")
    if stance:
        private, retour = DISAGREEMENT_TEXTS[stance]
    else:
        private = rng.choice(PRIVATE_COMMENTS[recommandation]) if rng.random() < 0.3 else ""
        retour = (
            "" if rng.random() >= 0.85 else _retour(recommandation, force, axe, values, best, worst)
        )
    return {
        "notes": notes,
        "commentaire_prive": private,
        "retour_collectivite": retour,
        "recommandation": recommandation,
        # minutes after midnight of the deadline day: so many days later, in the day
        "moment": rng.randint(*scored_within) * 24 * 60 + rng.randint(8 * 60, 21 * 60),
    }


def _retour(recommandation, force, axe, values, best, worst):
    """Feedback the decision letter may quote, built from the juror's best and worst critère."""
    if recommandation == Recommandation.RETENIR:
        if values[worst] / worst.note_max >= 0.75:
            return (
                f"Le jury a apprécié {force}. Votre expérience sera précieuse pour les autres "
                "collectivités du cycle : n'hésitez pas à la partager dès la première séance."
            )
        return (
            f"Le jury a apprécié {force}. Pour tirer le meilleur du cycle, il vous invite à {axe}."
        )
    if recommandation == Recommandation.LISTE_ATTENTE:
        return (
            f"Votre dossier est intéressant, notamment pour {force} ; il gagnerait toutefois "
            f"à {axe}."
        )
    if values[best] / best.note_max >= 0.5:
        opening = f"Le jury souligne {force}, mais"
    else:
        opening = "Le jury a lu votre candidature avec intérêt ; il"
    return (
        f"{opening} vous encourage à {axe} et à présenter de nouveau votre candidature lors "
        "d'une prochaine édition."
    )


def _as_draft(content, criteres):
    """A draft started and left: the first two critères scored, no recommendation yet."""
    notes = {
        critere: (content["notes"][critere] if index < 2 else (None, ""))
        for index, critere in enumerate(criteres)
    }
    return {**content, "notes": notes, "retour_collectivite": "", "recommandation": ""}


def _ensure_members(appel):
    created = 0
    for email, qualite, code, _severity in JURY:
        user = User.objects.filter(email=email).first()
        if user is None:
            continue
        _, was_created = MembreJury.objects.get_or_create(
            appel=appel,
            user=user,
            defaults={
                "qualite": qualite,
                "collectivite": _collectivite(code) if code else None,
            },
        )
        created += was_created
    return created


def _declare_conflicts(appel):
    for email, code, motif in DECLARED_CONFLICTS:
        user = User.objects.filter(email=email).first()
        dossier = Candidature.objects.filter(appel=appel, collectivite=_collectivite(code)).first()
        if user is None or dossier is None:
            continue
        if not Candidature.objects.for_juror(user).filter(pk=dossier.pk).exists():
            continue  # already declared, or hidden for another reason
        if Evaluation.objects.filter(candidature=dossier, jure=user).exists():
            continue  # scored by hand during the demo: that choice stands
        jury_services.declare_conflict(candidature=dossier, jure=user, motif=motif)


def _planned_states(email, position, dossiers, plan):
    """``{dossier pk: "soumise" | "brouillon"}`` for the juror; absent: not started."""
    if plan is None:
        return {dossier.pk: "soumise" for dossier in dossiers}
    submitted, drafts = plan.get(email, (0, 0))
    turn = (2 * position) % len(dossiers) if dossiers else 0
    ordered = dossiers[turn:] + dossiers[:turn]
    states = {dossier.pk: "soumise" for dossier in ordered[:submitted]}
    states |= {dossier.pk: "brouillon" for dossier in ordered[submitted : submitted + drafts]}
    return states


def _score(appel, plan, scored_within):
    if not appel.scoring_is_open():
        return 0
    criteres = list(appel.criteres.all())
    deadline_day = timezone.localtime(appel.closes_at, PARIS).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    created = 0
    for position, (email, _qualite, _membership, severity) in enumerate(JURY):
        member = (
            MembreJury.objects.filter(appel=appel, user__email=email).select_related("user").first()
        )
        if member is None:
            continue
        juror = member.user
        existing = dict(
            Evaluation.objects.filter(jure=juror, candidature__appel=appel).values_list(
                "candidature", "statut"
            )
        )
        dossiers = list(
            Candidature.objects.for_juror(juror)
            .filter(appel=appel)
            .select_related("collectivite", "appel")
            .order_by("numero")
        )
        states = _planned_states(email, position, dossiers, plan)
        for dossier in dossiers:
            state = states.get(dossier.pk)
            done = existing.get(dossier.pk)
            # Left alone: what exists, except a draft the whole-jury plan (2021) must complete.
            if state is None or done == Evaluation.Statut.SOUMISE:
                continue
            if done is not None and plan is not None:
                continue
            content = _evaluation_content(email, severity, dossier, criteres, scored_within)
            submit = state == "soumise"
            if not submit:
                content = _as_draft(content, criteres)
            jury_services.save_evaluation(
                candidature=dossier,
                jure=juror,
                notes=content["notes"],
                commentaire_prive=content["commentaire_prive"],
                retour_collectivite=content["retour_collectivite"],
                recommandation=content["recommandation"],
                submit=submit,
                now=deadline_day + timedelta(minutes=content["moment"]),
            )
            created += done is None
    return created


def seed_jury(appel, *, staff_user, plan=None, scored_within=SCORED_WITHIN_2021) -> dict:
    """Seat the demo jury on ``appel``, record its conflicts and write its évaluations.

    ``plan`` (see ``RECENT_PLAN``) leaves work to do; without it every juror submits an
    évaluation of every dossier they may see. Nothing is written once the scoring is closed.
    Idempotent: existing members, conflicts and évaluations are left as they are. Returns a
    summary: members, conflicts (détectés, déclarés), évaluations (created this time, submitted,
    drafts) and dossiers not started yet.
    """
    if not staff_user.is_staff:
        raise PermissionDenied
    members_created = _ensure_members(appel)
    jury_services.refresh_conflicts(appel=appel)
    _declare_conflicts(appel)
    created = _score(appel, plan, scored_within)

    evaluations = Evaluation.objects.filter(candidature__appel=appel)
    conflicts = ConflitInteret.objects.filter(candidature__appel=appel)
    left = 0
    for member in appel.membres_jury.select_related("user"):
        visible = Candidature.objects.for_juror(member.user).filter(appel=appel)
        left += visible.exclude(evaluations__jure=member.user).count()
    return {
        "membres": appel.membres_jury.count(),
        "membres_crees": members_created,
        "conflits_detectes": conflicts.filter(origine=ConflitInteret.Origine.DETECTE).count(),
        "conflits_declares": conflicts.filter(origine=ConflitInteret.Origine.DECLARE).count(),
        "evaluations_creees": created,
        "soumises": evaluations.filter(statut=Evaluation.Statut.SOUMISE).count(),
        "brouillons": evaluations.filter(statut=Evaluation.Statut.BROUILLON).count(),
        "non_commencees": left,
    }


def seed_recent_jury(appel, *, staff_user) -> dict:
    """The recent call's jury half-way through its scoring (``RECENT_PLAN``), reminded once by
    « Relancer » (the worker sends the reminders; not again when the demo is loaded again)."""
    summary = seed_jury(
        appel, staff_user=staff_user, plan=RECENT_PLAN, scored_within=SCORED_WITHIN_RECENT
    )
    if not appel.rappels_jury.exists():
        summary["rappels"] = jury_services.send_jury_reminders(appel=appel, staff_user=staff_user)
    return summary


def close_2021_scoring(appel, *, staff_user) -> None:
    """Close the 2021 scoring and open its deliberation, at their 2021 dates (once: both
    services keep the first stamp). Called after ``seed_jury``, before the decisions."""
    jury_services.close_scoring(appel=appel, staff_user=staff_user, now=SCORING_CLOSED_2021)
    jury_services.open_deliberation(appel=appel, staff_user=staff_user, now=DELIBERATION_2021)
