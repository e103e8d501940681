"""What the participants' network holds about one person, for their right of access: their
directory consents (with their dates), the discussions they follow, the messages they wrote
(with the team's reason when one was hidden). Other people's messages are not theirs."""

from cycle.participants.models import Participant
from cycle.reseau.models import Abonnement, ConsentementAnnuaire, MessageReseau
from cycle.reseau.services import own_members


def network_data(*, participant, user) -> dict:
    return {
        "accords_annuaire": [
            {
                "membre": consent.membre.nom,
                "accord_donne_le": consent.consenti_at,
                "accord_retire_le": consent.revoque_at,
            }
            for consent in ConsentementAnnuaire.objects.filter(
                membre__in=own_members(participant, user)
            )
            .select_related("membre")
            .order_by("consenti_at", "pk")
        ],
        "discussions_suivies": list(
            Abonnement.objects.filter(user=user, discussion__cycle_id=participant.cycle_id)
            .order_by("created_at", "pk")
            .values_list("discussion__titre", flat=True)
        ),
        "messages": [
            {
                "discussion": message.discussion.titre,
                "ecrit_le": message.created_at,
                "signe": message.auteur_nom,
                "texte": message.texte,
                "piece_jointe": message.nom_original,
                "masque_le": message.masque_at,
                "motif_du_masquage": message.masque_motif,
            }
            for message in MessageReseau.objects.filter(auteur=user, participant=participant)
            .select_related("discussion")
            .order_by("created_at", "pk")
        ],
    }


def dossier_personal_data(*, candidature, user) -> dict:
    """The ``candidatures.dossiers.hooks.personal_data`` contribution: the network's data of
    ``user`` in the participation of ``candidature``, if it has one."""
    participant = Participant.objects.filter(candidature=candidature).first()
    if participant is None:
        return {}
    return {"reseau_des_participants": network_data(participant=participant, user=user)}
