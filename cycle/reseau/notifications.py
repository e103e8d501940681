"""E-mails to the followers of a discussion, one per new message, sent by the worker.

Kept apart on purpose: ``notify_followers`` is the one place to switch to the shared
notifications API (each person's choice: every message, a daily digest or nothing) once it
exists. Until then, every follower but the author gets a plain e-mail per message.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.tasks import background
from cycle.participants.models import Participant
from cycle.reseau.models import EnvoiMessageReseau, Message

EXCERPT_LENGTH = 1000


class FollowersNotNotified(Exception):
    """Some e-mails failed: the worker retries the task, which skips those already sent."""


def recipients(message: Message) -> list[tuple[str, int]]:
    """(e-mail, participation id) of each follower to tell about ``message``: active accounts
    with an address, still in an active participation of the cycle, except its author."""
    User = get_user_model()
    followers = (
        User.objects.filter(abonnements_reseau__discussion_id=message.discussion_id, is_active=True)
        .exclude(pk=message.auteur_id)
        .exclude(email="")
        .order_by("pk")
    )
    result = []
    for user in followers:
        participation = (
            Participant.objects.of_user(user)
            .actifs()
            .filter(cycle_id=message.discussion.cycle_id)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if participation is not None:
            result.append((user.email.lower(), participation))
    return result


def _email(message: Message, participation_id: int, address: str):
    discussion = message.discussion
    path = reverse("cycle:discussion", args=[participation_id, discussion.pk])
    texte = message.texte
    if len(texte) > EXCERPT_LENGTH:
        texte = texte[: EXCERPT_LENGTH - 1] + "…"
    context = {
        "discussion": discussion.titre,
        "cycle_titre": discussion.cycle.titre,
        "auteur_nom": message.auteur_nom,
        "collectivite": message.participant.candidature.collectivite.nom,
        "ecrit_le": format_datetime_fr(message.created_at),
        "texte": texte,
        "fichier": message.nom_original if message.fichier else "",
        "discussion_url": site_url(f"{path}#message-{message.pk}"),
        "suivre_url": site_url(path),
    }
    return build_email("message_reseau", context, to=[address])


@background("Discussions du réseau : e-mail aux abonné·es d'une discussion")
def notify_followers(*, message_id: int) -> int:
    """E-mail ``message_id`` to every follower of its discussion (``recipients``); returns how
    many e-mails this run sent.

    Idempotent: one EnvoiMessageReseau per (message, address), each sent under its row lock
    and never again once « envoyé ». A message hidden (or deleted) before the run sends
    nothing. When an e-mail fails, the failure is recorded on its row and the task raises so
    that the worker retries it later (those already sent are skipped).
    """
    message = (
        Message.objects.select_related(
            "discussion__cycle", "participant__candidature__collectivite"
        )
        .filter(pk=message_id, masque_at__isnull=True)
        .first()
    )
    if message is None:
        return 0
    targets = recipients(message)
    EnvoiMessageReseau.objects.bulk_create(
        [EnvoiMessageReseau(message=message, destinataire=address) for address, _ in targets],
        ignore_conflicts=True,
    )
    sent, failed = 0, 0
    for address, participation_id in targets:
        with transaction.atomic():
            envoi = (
                EnvoiMessageReseau.objects.select_for_update(skip_locked=True)
                .filter(message=message, destinataire=address)
                .exclude(statut=EnvoiMessageReseau.Statut.ENVOYE)
                .first()
            )
            if envoi is None:
                continue
            if envoi.attempt(
                lambda a=address, p=participation_id: _email(message, p, a),
                now=timezone.now(),
            ):
                sent += 1
            else:
                failed += 1
    if failed:
        raise FollowersNotNotified(f"{failed} e-mail(s) en échec pour le message {message_id}")
    return sent
