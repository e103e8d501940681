"""The calls the Cerdd actually ran, as data: the 2021 edition from the original call text."""

import zoneinfo
from datetime import date, datetime, timedelta

from django.utils import timezone

from .models import Appel, Critere, NiveauCritere

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

PRESENTATION = """Depuis 2001, le Centre Ressource du Développement Durable (Cerdd) outille et accompagne les acteurs de la région vers de nouveaux modèles de société et les incite à être acteurs des transitions économique, sociale et écologique dans les territoires.

L'objectif du programme Territoires participatifs : contribuer à faire émerger en Hauts-de-France des territoires engagés dans des processus de participation et de mobilisation citoyenne œuvrant pour le développement durable, en proposant aux administrations locales des outils de qualification et d'échange entre pairs pour comprendre les enjeux de la participation et de la mobilisation citoyenne, leur plus-value et leur force accélératrice.

Le Cerdd est devenu en novembre 2020 lauréat de l'appel à projets « Participation citoyenne » de la Direction interministérielle de la transformation publique, grâce à une réponse collective pilotée en région par le SIILAB. Le présent appel à manifestation d'intérêt est en partie financé dans ce cadre."""

OBJECTIFS = """Le défi est grand : faire évoluer le rôle de collectivités gestionnaires vers des collectivités animatrices, activatrices de pouvoir citoyen.

Le cycle de qualification vise à :
– accompagner les collectivités sur la prise de conscience de l'intérêt à s'engager dans des processus participatifs pour répondre aux urgences climatiques et écologiques ;
– outiller les collectivités avec des méthodes concrètes pour qu'elles accompagnent la transformation de leur territoire et intègrent des processus participatifs dans leur projet.

Il s'agit de découvrir des outils pratiques et innovants, de prendre le temps de s'interroger sur le rapport au pouvoir, à la décision, à la participation citoyenne, et de repérer les leviers et ressources mobilisables pour engager son territoire dans un processus participatif."""

# No date nor place in the texts: an edition's calendar comes from its dates (see the public
# page's « Calendrier »), so copying these texts to the next edition shows nothing stale.
CYCLE = """Un cycle de 7 séances de travail d'une journée chacune, une séance toutes les 6 semaines environ (dates et lieu de la première journée dans le calendrier).

Chaque séance : une note de contexte envoyée en amont ; une matinée d'apports d'expertise, de ressources et de débat ; un déjeuner en commun ; un après-midi d'exercices de mise en situation et d'appropriation des acquis.

Le cycle s'adresse aux élu·es et technicien·nes des intercommunalités ou communes des Hauts-de-France. Un binôme élu·e / technicien·ne à chaque journée est vivement conseillé. Un dispositif gratuit, des conseils méthodologiques, un appui en continu entre les séances, une mise en réseau des membres et une capitalisation du cycle.

Au lancement du cycle, un journal de bord sera remis à chaque participant·e pour noter les points forts retenus, les points de vigilance, les idées et les marges de progression ; il sera mis en discussion au démarrage de chaque journée."""

ATTENTES = """La collectivité qui participe à ce cycle s'engage à chercher à expérimenter sur son territoire les outils et acquis des séances. Par exemple : présentation par les élu·es participant·es des grands messages du cycle aux élu·es locaux ; déploiement d'un outil pendant ou après le cycle ; échange avec une autre collectivité engagée ; mobilisation d'une assistance à maîtrise d'ouvrage sur une stratégie de participation citoyenne."""

BONNES_RAISONS = """1. Construire une vision ambitieuse et motivante de la participation citoyenne sur votre territoire pour accélérer sa transition écologique.
2. Disposer d'un espace unique en région pour se poser les bonnes questions sur le rapport au pouvoir, la légitimité de chacun·e à s'exprimer, etc.
3. Découvrir une palette d'outils et de méthodes qui inspireront votre action au niveau local.
4. Échanger entre pairs et avec des experts pour mieux comprendre les points de blocage éventuels, les opportunités à saisir, les leviers à activer.
5. Travailler collectivement un argumentaire robuste pour embarquer les collègues élu·es et technicien·nes dans l'aventure participative de votre territoire."""

CRITERES_TEXTE = """– Être une collectivité des Hauts-de-France (commune ou EPCI) engagée dans une dynamique de transition (Plan Climat, démarche de développement durable, projet alimentaire local, etc.) ou ayant manifesté une intention franche de s'engager en transition.
– Une collectivité motivée, déterminée et humble en arrivant dans ce cycle.
– Une collectivité qui explique dans sa lettre de motivation la place qu'elle accorde ou souhaite accorder à la démocratie participative dans son projet, l'objectif qu'elle recherche en participant à ce cycle, et ce qu'elle pense apporter au cycle.
– Une présence garantie d'un binôme élu·e et technicien·ne à chaque séance du cycle.

Un jury composé de membres de la cellule d'orientation appuiera le Cerdd dans son analyse des candidatures reçues."""

CRITERES = [
    (
        "Engagement dans une dynamique de transition",
        "Plan Climat, démarche de développement durable, projet alimentaire local… ou intention "
        "franche de s'engager en transition.",
        [
            "Aucune démarche de transition ni intention exprimée.",
            "Intention exprimée, sans démarche engagée.",
            "Une démarche engagée, encore ponctuelle.",
            "Plusieurs démarches engagées et cohérentes.",
            "Dynamique de transition structurée et portée politiquement.",
        ],
    ),
    (
        "Motivation, détermination et humilité",
        "Une collectivité motivée, déterminée et humble en arrivant dans ce cycle.",
        [
            "Motivation absente ou formelle.",
            "Motivation peu argumentée.",
            "Motivation claire, attentes générales.",
            "Motivation argumentée, attentes précises, posture d'apprentissage.",
            "Motivation forte, attentes précises, posture d'apprentissage et de partage affirmée.",
        ],
    ),
    (
        "Place de la démocratie participative et apport au cycle",
        "La lettre de motivation explique la place accordée à la démocratie participative, "
        "l'objectif recherché en participant au cycle et ce que la collectivité pense apporter.",
        [
            "La lettre n'aborde pas ces points.",
            "Un seul des trois points est traité.",
            "Deux points traités, ou trois superficiellement.",
            "Les trois points traités avec des exemples.",
            "Les trois points traités de façon approfondie et inspirante pour le groupe.",
        ],
    ),
    (
        "Présence garantie d'un binôme élu·e / technicien·ne",
        "Une présence garantie d'un binôme élu·e et technicien·ne à chaque séance du cycle.",
        [
            "Pas de binôme identifié.",
            "Un·e seul·e référent·e identifié·e.",
            "Binôme identifié, disponibilité incertaine.",
            "Binôme identifié et engagé sur la plupart des séances.",
            "Binôme identifié, engagé sur toutes les séances, avec suppléance prévue.",
        ],
    ),
]


def _paris(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def appel_texts():
    return {
        "accroche": (
            "Un cycle de qualification de sept journées, gratuit, pour les élu·es et "
            "technicien·nes des communes et intercommunalités qui veulent faire de la "
            "participation citoyenne un levier des transitions."
        ),
        "presentation": PRESENTATION,
        "objectifs": OBJECTIFS,
        "cycle": CYCLE,
        "attentes": ATTENTES,
        "bonnes_raisons": BONNES_RAISONS,
        "criteres_texte": CRITERES_TEXTE,
        "calendrier": "",
        "contact_nom": "Alexis Montaigne",
        "contact_fonction": "Chargé de mission citoyenneté et développement durable, Cerdd",
        "contact_email": "amontaigne@cerdd.org",
        "signataire_nom": "Emmanuel Bertin",
        "signataire_fonction": "Directeur du Cerdd",
        "signataire_email": "ebertin@cerdd.org",
    }


def ensure_criteres(appel, criteres=CRITERES):
    """The call's jury grid: (label, description, [level 0 … 4 texts]) per criterion."""
    for ordre, (libelle, description, niveaux) in enumerate(criteres, start=1):
        critere, _ = Critere.objects.update_or_create(
            appel=appel,
            ordre=ordre,
            defaults={"libelle": libelle, "description": description, "poids": 1, "note_max": 4},
        )
        for note, text in enumerate(niveaux):
            NiveauCritere.objects.update_or_create(
                critere=critere, note=note, defaults={"description": text}
            )


def ensure_appel_2021():
    """The 2021 edition with its real calendar (idempotent)."""
    appel, _ = Appel.objects.update_or_create(
        slug="2021",
        defaults={
            "titre": "Vers des territoires participatifs en Hauts-de-France — 2021",
            "prefixe_numero": "AMI-2021",
            "est_publie": True,
            "opens_at": _paris(2020, 12, 10),
            "closes_at": _paris(2021, 3, 12, 23, 59, 59),
            "announcement_at": _paris(2021, 4, 15, 9),
            "first_session_date": date(2021, 5, 18),
            "first_session_place": "Loos-en-Gohelle",
            "places": 12,
            **appel_texts(),
        },
    )
    ensure_criteres(appel)
    return appel


def ensure_appel_ouvert(today=None):
    """A second edition, open on the day the demo is loaded, so newcomers can apply."""
    today = today or timezone.localdate()
    year = today.year + 1
    opens = datetime.combine(today - timedelta(days=14), datetime.min.time(), tzinfo=PARIS)
    closes = datetime.combine(today + timedelta(days=28), datetime.max.time(), tzinfo=PARIS)
    closes = closes.replace(microsecond=0)
    appel, created = Appel.objects.get_or_create(
        slug=str(year),
        defaults={
            "titre": f"Vers des territoires participatifs en Hauts-de-France — {year}",
            "prefixe_numero": f"AMI-{year}",
            "est_publie": True,
            "opens_at": opens,
            "closes_at": closes,
            "announcement_at": closes + timedelta(days=34),
            "first_session_date": (closes + timedelta(days=67)).date(),
            "first_session_place": "Arras",
            "places": 15,
            **appel_texts(),
        },
    )
    if created:
        ensure_criteres(appel)
    return appel


def ensure_appel_recent(today=None):
    """A third edition, closed three weeks before the day the demo is loaded: its jury is
    scoring (the demo jurors have work to do) and its decisions are still to be taken.

    Dates follow the day of the first run (kept afterwards): deadline 21 days before, answers
    21 days after, first session a month after the answers. The slug is the deadline's year.
    """
    today = today or timezone.localdate()
    deadline = today - timedelta(days=21)
    year = deadline.year
    closes = datetime.combine(deadline, datetime.max.time(), tzinfo=PARIS).replace(microsecond=0)
    announcement = datetime.combine(today + timedelta(days=21), datetime.min.time(), tzinfo=PARIS)
    appel, created = Appel.objects.get_or_create(
        slug=str(year),
        defaults={
            "titre": f"Vers des territoires participatifs en Hauts-de-France — {year}",
            "prefixe_numero": f"AMI-{year}",
            "est_publie": True,
            "opens_at": datetime.combine(
                deadline - timedelta(days=90), datetime.min.time(), tzinfo=PARIS
            ),
            "closes_at": closes,
            "announcement_at": announcement.replace(hour=9),
            "first_session_date": today + timedelta(days=21 + 30),
            "first_session_place": "Amiens",
            "places": 10,
            **appel_texts(),
        },
    )
    if created:
        ensure_criteres(appel)
    return appel
