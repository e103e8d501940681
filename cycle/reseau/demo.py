"""Demo network of a running cycle: a few people who agreed to show their contacts in the
directory, three discussions (one per theme of the call, one about the last séance held)
with replies from several collectivités, and one reply hidden by the team.

Idempotent: a cycle that already has discussions (or consents) keeps them as they are. The
demo participant (the référent·e technique of the first dossier) and the second collectivité
are left out of the directory, so that a newcomer can try the opt-in themselves.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cerdd_ami import roles
from cerdd_ami.models import User
from cycle.participants.models import Participant
from cycle.reseau.models import (
    Abonnement,
    ConsentementAnnuaire,
    Discussion,
    MessageReseau,
)
from cycle.seances.models import Seance

THREADS = [
    {
        "titre": "Mobiliser les jeunes dans nos démarches participatives",
        "theme": "alliances",
        "messages": [
            "Bonjour à toutes et tous,\nnous cherchons à associer les 15-25 ans à notre "
            "budget participatif. Quelles portes d'entrée ont marché chez vous ?",
            "Chez nous, le passage par les lycées et une permanence au skate-park ont mieux "
            "fonctionné que les réunions publiques.",
            "Nous avons créé un conseil des jeunes avec une enveloppe propre : je peux vous "
            "partager sa charte.",
        ],
    },
    {
        "titre": "Élu·es et technicien·nes : qui anime les réunions publiques ?",
        "theme": "postures",
        "messages": [
            "Suite à la dernière séance : comment vous répartissez-vous les rôles entre élu·e "
            "et technicien·ne lors des réunions publiques ?",
            "L'élue ouvre et conclut, le technicien anime les ateliers : cela a clarifié les "
            "attentes des habitant·es.",
            "Message publicitaire sans rapport avec la discussion.",
        ],
        "hidden": 2,
    },
    {
        "titre": "Retours sur la séance",
        "seance": True,
        "messages": [
            "Merci pour la visite de terrain : la boussole de la participation me servira dès "
            "le prochain conseil municipal.",
            "Pareil pour nous. Quelqu'un a-t-il le support de l'atelier de l'après-midi ?",
        ],
    },
]
HIDDEN_REASON = "Message sans rapport avec la discussion (publicité)."


def _person(participant):
    """A binôme titulaire with an account, and their name."""
    for member in participant.membres.all():
        if member.titulaire and member.user_id:
            return member.user, member.nom
    return None, ""


@transaction.atomic
def seed_reseau(cycle, *, now=None) -> dict:
    """The directory's consents and the discussions of ``cycle`` (see the module docstring).
    Returns how many rows of each kind were created."""
    now = now or timezone.now()
    participants = list(
        Participant.objects.actifs()
        .filter(cycle=cycle)
        .select_related("candidature")
        .prefetch_related("membres")
        .order_by("candidature__numero", "pk")
    )
    created = {"accords": 0, "discussions": 0, "messages": 0}
    if not ConsentementAnnuaire.objects.filter(membre__participant__cycle=cycle).exists():
        for participant in participants[2:5]:
            for member in participant.membres.all():
                if member.titulaire and member.user_id:
                    ConsentementAnnuaire.objects.create(
                        membre=member, user_id=member.user_id, consenti_at=now - timedelta(days=9)
                    )
                    created["accords"] += 1
    people = [(p, *_person(p)) for p in participants]
    people = [(p, user, nom) for p, user, nom in people if user is not None]
    if Discussion.objects.filter(cycle=cycle).exists() or len(people) < 3:
        return created
    last_held = Seance.objects.filter(cycle=cycle).started(now).order_by("-numero").first()
    staff = (
        User.objects.filter(is_staff=True, groups__name=roles.CHARGE_DE_MISSION)
        .order_by("pk")
        .first()
    )
    for index, thread in enumerate(THREADS):
        seance = last_held if thread.get("seance") else None
        if thread.get("seance") and seance is None:
            continue
        start = now - timedelta(days=8 - 2 * index)
        # Writers: from the third collectivité on, then the others in turn.
        writers = [people[(index + 2 + k) % len(people)] for k in range(len(thread["messages"]))]
        opener, opener_user, opener_nom = writers[0]
        discussion = Discussion.objects.create(
            cycle=cycle,
            titre=thread["titre"],
            theme=thread.get("theme", ""),
            seance=seance,
            auteur=opener_user,
            participant=opener,
            auteur_nom=opener_nom,
            created_at=start,
        )
        created["discussions"] += 1
        for rank, (texte, (participant, user, nom)) in enumerate(
            zip(thread["messages"], writers, strict=True)
        ):
            message = MessageReseau.objects.create(
                discussion=discussion,
                auteur=user,
                participant=participant,
                auteur_nom=nom,
                texte=texte,
                created_at=start + timedelta(hours=5 * rank),
            )
            created["messages"] += 1
            Abonnement.objects.get_or_create(discussion=discussion, user=user)
            if rank == thread.get("hidden"):
                message.masque_at = message.created_at + timedelta(hours=2)
                message.masque_par = staff
                message.masque_motif = HIDDEN_REASON
                message.save(update_fields=["masque_at", "masque_par", "masque_motif"])
    return created
