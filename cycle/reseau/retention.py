"""Retention of the participants' network (RGPD), run by ``purger_donnees`` and the weekly
task with the other rules (``candidatures.retention.purgers``; ``cycle/apps.py`` registers
``purge_reseau``).

The rule, as the directory's and the discussions' pages say it (``views.RETENTION_NOTE``):
12 months after the cycle's last séance (end of day, Paris), its discussions, their messages
and files, the follows, and the directory's consents (active or revoked)
are deleted. A cycle without any séance keeps them: it has not ended.
"""

from django.db import transaction

from cerdd_ami import files
from cycle.reseau.models import ConsentementAnnuaire, Discussion, MessageReseau
from cycle.seances.services import cycles_ended_months_ago

RESEAU_RETENTION_MONTHS = 12
MESSAGES = "Fils de discussion du réseau et leurs messages (cycle fini depuis plus de 12 mois)"
CONSENTS = "Accords pour l'annuaire du réseau (cycle fini depuis plus de 12 mois)"


def cycles_past_retention(*, now=None) -> list[int]:
    """Ids of the cycles whose last séance ended more than 12 months before ``now``."""
    return cycles_ended_months_ago(months=RESEAU_RETENTION_MONTHS, now=now)


@transaction.atomic
def purge_reseau(*, now=None) -> dict[str, int]:
    """Delete the network's data of the cycles past retention; returns the counts by kind.

    Side effects: DELETE of their Discussion rows and, by cascade, MessageReseau (and its history
    rows, deleted too), Abonnement; DELETE of their ConsentementAnnuaire
    rows; once committed, the messages' files are removed from storage.
    """
    expired = cycles_past_retention(now=now)
    if not expired:
        return {MESSAGES: 0, CONSENTS: 0}
    discussions = Discussion.objects.filter(cycle__in=expired).select_for_update()
    ids = list(discussions.values_list("pk", flat=True))
    stored = list(
        MessageReseau.objects.filter(discussion__in=ids).exclude(fichier="").only("fichier")
    )
    Discussion.objects.filter(pk__in=ids).delete()
    MessageReseau.history.model.objects.filter(discussion_id__in=ids).delete()
    for message in stored:
        files.delete_on_commit(message.fichier)
    consents, _ = ConsentementAnnuaire.objects.filter(
        membre__participant__cycle__in=expired
    ).delete()
    return {MESSAGES: len(ids), CONSENTS: consents}
