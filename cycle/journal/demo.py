"""Demo journal de bord of a cycle: entries of every visibility after each séance held
(``SeanceQuerySet.started``), a few replies of the Cerdd's team, and commitments to experiment
with dated progress.

Idempotent: a collectivité that already has entries (or commitments) is left as it is.
"""

import zoneinfo
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from cerdd_ami import roles
from cerdd_ami.models import User
from cycle.journal.models import (
    AvancementEngagement,
    Engagement,
    EntreeJournal,
    ReponseFacilitateur,
)
from cycle.participants.models import Participant
from cycle.seances.models import Seance

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
V = EntreeJournal.Visibilite

# What people note after each séance: (points forts, vigilance, idées, marges de progression).
NOTES = {
    1: [
        (
            "Le diagnostic partagé de la matinée : on n'est pas les seuls à voir la participation "
            "s'essouffler après les réunions publiques classiques.",
            "Ne pas promettre aux habitant·es ce que le conseil municipal n'a pas encore arbitré.",
            "Refaire chez nous l'exercice du « mur des attentes » avec le conseil municipal.",
            "Mieux relier nos projets de transition (PCAET, mobilités) à la participation.",
        ),
        (
            "Les témoignages de Loos-en-Gohelle sur 30 ans de « fil conducteur » participatif.",
            "Le temps nécessaire : nos services sont déjà saturés.",
            "Une page « On en parle » sur le site de la commune pour rendre compte des avis.",
            "Clarifier qui, de l'élu·e ou du technicien·ne, porte la démarche en interne.",
        ),
    ],
    2: [
        (
            "Le jeu de rôle sur les postures : se mettre à la place d'un habitant en colère "
            "change le regard sur nos réunions.",
            "Le risque de n'entendre que les habitué·es des réunions de quartier.",
            "Tester des permanences « hors les murs » au marché du samedi.",
            "Travailler la posture d'écoute des élu·es : laisser parler avant de répondre.",
        ),
        (
            "Distinguer information, consultation, concertation et co-construction.",
            "Annoncer clairement ce qui est négociable et ce qui ne l'est pas.",
            "Une charte de la participation courte, écrite avec le conseil citoyen.",
            "Former les agent·es d'accueil à relayer les démarches en cours.",
        ),
    ],
    3: [
        (
            "La boussole de la participation : un outil simple pour situer un projet.",
            "Les outils numériques seuls excluent une partie du public (âgé·es, zones blanches).",
            "Organiser une Carto Party sur les chemins de randonnée avec l'office de tourisme.",
            "Évaluer nos démarches passées avec la boussole avant d'en lancer de nouvelles.",
        ),
        (
            "L'atelier mise en récit : raconter le territoire de 2040 avec les habitant·es.",
            "Le budget participatif demande un vrai suivi des projets lauréats.",
            "Un budget participatif « transition » réservé aux projets des écoles.",
            "Associer les services techniques dès la conception des outils.",
        ),
    ],
    4: [
        (
            "Sortir du « Tous les mêmes » : aller chercher les jeunes là où ils sont.",
            "Les horaires de nos réunions (18 h) écartent les parents de jeunes enfants.",
            "Un tirage au sort pour le prochain comité de suivi du plan vélo.",
            "Diversifier les lieux : médiathèque, centre social, salle des sports.",
        ),
        (
            "Les échanges entre binômes sur la mobilisation des publics éloignés.",
            "Ne pas instrumentaliser les associations comme simples relais.",
            "Une indemnité ou une garde d'enfants pour les citoyen·nes tiré·es au sort.",
            "Mesurer qui participe réellement (âge, quartier) pour corriger le tir.",
        ),
    ],
}
NOTES[5] = [
    (
        "Le théâtre-forum sur la décision : voir où l'avis des habitant·es se perd en route.",
        "Dire dès le départ ce que deviendront les contributions, et tenir parole.",
        "Un « retour aux habitant·es » systématique, trois mois après chaque concertation.",
        "Suivre nos engagements avec quelques indicateurs simples, partagés en conseil.",
    ),
    (
        "Les récits d'évaluation participative : des habitant·es qui évaluent un projet livré.",
        "L'évaluation ne doit pas devenir un audit des services.",
        "Un comité de suivi citoyen pour le plan vélo, avec un bilan public chaque année.",
        "Prévoir le budget de l'évaluation dès le lancement du projet.",
    ),
]
NOTES[6] = [
    (
        "Les alliances avec les associations locales : partir de ce qu'elles font déjà.",
        "Ne pas leur demander de faire à notre place sans moyens.",
        "Une convention d'objectifs avec le centre social pour aller vers les quartiers.",
        "Mieux connaître le tissu associatif : une cartographie à faire avec elles.",
    ),
    (
        "Gérer les situations complexes : le conflit n'est pas un échec de la participation.",
        "Le risque de récupération politique à l'approche des élections.",
        "Une charte de neutralité pour les réunions publiques en période électorale.",
        "Se former à la médiation avant le prochain projet sensible.",
    ),
]
NOTES[7] = [
    (
        "La mise en récit de nos deux années : mesurer le chemin parcouru ensemble.",
        "Garder l'élan une fois le cycle terminé.",
        "Un réseau régional des binômes du cycle, réuni une fois par an.",
        "Transmettre la démarche aux nouveaux élu·es et agent·es.",
    ),
    (
        "Les retours des autres collectivités : nos difficultés étaient partagées.",
        "Ne pas tout miser sur une seule personne référente en interne.",
        "Présenter notre bilan du cycle en conseil municipal.",
        "Inscrire la participation dans le projet d'administration.",
    ),
]
ENTRE_SEANCES = (
    "Présentation du cycle en bureau communautaire : bon accueil, questions sur le coût.",
    "Garder le lien entre séances : nous avons laissé passer un mois sans en reparler.",
    "Un point de 15 minutes avec le binôme chaque lundi.",
    "Partager les notes de séance aux autres services.",
)
REPLIES = [
    "Merci pour ce retour : nous reviendrons sur ce point lors de la prochaine séance.",
    "Belle idée ! La commune hôte de la séance 5 a tenté quelque chose de proche, à échanger.",
    "Point de vigilance noté : il fera l'objet d'un temps dédié dans le programme.",
]
ENGAGEMENTS = {
    Engagement.Nature.PRESENTATION_ELUS: "Présenter les messages du cycle en conseil municipal "
    "et en commission transition écologique.",
    Engagement.Nature.OUTIL: "Déployer la boussole de la participation sur le projet de "
    "requalification du centre-bourg.",
    Engagement.Nature.ECHANGE: "Rendre visite à une collectivité du cycle qui a lancé un budget "
    "participatif, avec deux élu·es.",
    Engagement.Nature.AMO: "Recruter une assistance à maîtrise d'ouvrage pour la concertation "
    "du plan de mobilité.",
    Engagement.Nature.AUTRE: "Créer un comité citoyen tiré au sort pour suivre le PCAET.",
}
PROGRESS = [
    (Engagement.Statut.PREVU, "Inscrit à l'ordre du jour, calendrier validé par le bureau."),
    (Engagement.Statut.EN_COURS, "Première étape faite ; retours positifs, on poursuit."),
    (Engagement.Statut.REALISE, "C'est fait : compte rendu partagé avec le binôme."),
]


def _at(day, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=PARIS)


def _people(participant) -> list:
    """Accounts of the collectivité: binôme titulaires with an account, then référent·es."""
    people = [m.user for m in participant.membres.all() if m.user_id and m.titulaire]
    people += [acces.user for acces in participant.candidature.acces.all() if acces.user_id]
    unique = []
    for person in people:
        if person not in unique:
            unique.append(person)
    return unique


@transaction.atomic
def seed_journal(cycle, *, now=None) -> dict:
    """Entries written the day after each séance held by ``now`` (never later than ``now``);
    see the module's docstring. Returns how many rows of each kind were created."""
    now = now or timezone.now()
    today = timezone.localtime(now, PARIS).date()
    seances = list(Seance.objects.filter(cycle=cycle).started(now).order_by("numero"))
    participants = list(
        Participant.objects.actifs()
        .filter(cycle=cycle)
        .select_related("candidature")
        .prefetch_related("membres__user", "candidature__acces__user")
        .order_by("candidature__collectivite__nom", "pk")
    )
    staff = (
        User.objects.filter(is_staff=True, groups__name=roles.CHARGE_DE_MISSION)
        .order_by("pk")
        .first()
    )
    created = {"entrees": 0, "reponses": 0, "engagements": 0, "avancements": 0}
    new_shared = []
    for index, participant in enumerate(participants):
        people = _people(participant)
        if not people:
            continue
        if not EntreeJournal.objects.filter(participant=participant).exists():
            for seance in seances:
                notes = NOTES[(seance.numero - 1) % len(NOTES) + 1][index % 2]
                visibilite = [V.PARTAGEE, V.PRIVEE, V.BINOME][(index + seance.numero) % 3]
                auteur = people[1] if visibilite == V.BINOME and len(people) > 1 else people[0]
                entree = EntreeJournal.objects.create(
                    participant=participant,
                    auteur=auteur,
                    seance=seance,
                    points_forts=notes[0],
                    points_vigilance=notes[1],
                    idees=notes[2],
                    marges_progression=notes[3] if seance.numero % 2 else "",
                    visibilite=visibilite,
                    created_at=min(_at(seance.date + timedelta(days=1), 18), now),
                )
                created["entrees"] += 1
                if visibilite == V.PARTAGEE:
                    new_shared.append(entree)
            if seances and index == 0:
                # One note between two séances, shared with the cycle.
                entree = EntreeJournal.objects.create(
                    participant=participant,
                    auteur=people[0],
                    points_forts=ENTRE_SEANCES[0],
                    points_vigilance=ENTRE_SEANCES[1],
                    idees=ENTRE_SEANCES[2],
                    marges_progression=ENTRE_SEANCES[3],
                    visibilite=V.PARTAGEE,
                    created_at=min(_at(seances[0].date + timedelta(days=20), 9), now),
                )
                created["entrees"] += 1
                new_shared.append(entree)
        if not Engagement.objects.filter(participant=participant).exists() and seances:
            natures = list(Engagement.Nature)
            # Each nature at least once across the cycle, two commitments per collectivité.
            for offset in (0, 1):
                nature = natures[(2 * index + offset) % len(natures)]
                engagement = Engagement.objects.create(
                    participant=participant,
                    nature=nature,
                    description=ENGAGEMENTS[nature],
                    created_by=people[0],
                    created_at=min(_at(seances[0].date + timedelta(days=3), 10), now),
                )
                created["engagements"] += 1
                steps = PROGRESS[: 1 + (index + offset) % 3]
                for step, (statut, texte) in enumerate(steps):
                    day = min(seances[min(step, len(seances) - 1)].date + timedelta(days=7), today)
                    AvancementEngagement.objects.create(
                        engagement=engagement,
                        date=day,
                        texte=texte,
                        statut=statut,
                        auteur=people[0],
                    )
                    created["avancements"] += 1
                engagement.statut = steps[-1][0]
                engagement.save(update_fields=["statut"])
    for entree, texte in zip(new_shared, REPLIES, strict=False):
        ReponseFacilitateur.objects.create(
            entree=entree,
            auteur=staff,
            texte=texte,
            created_at=min(entree.created_at + timedelta(days=2), now),
        )
        created["reponses"] += 1
    return created
