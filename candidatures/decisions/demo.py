"""Demo decisions for seed_demo: the 2021 call's dossiers decided from the jury's ranking, a week
before the announcement, once its scoring is closed and its deliberation open (demo_jury).
They are staged here; the cycle's demo publishes them (its participants need them). The recent
call gets no decision: the newcomer stages and publishes those."""

from datetime import timedelta

from django.utils import timezone

from candidatures.decisions import letter_templates, publication
from candidatures.decisions import services as decisions_services
from candidatures.jury import ranking

from .models import Decision, Issue

# The Cerdd settles its answers a week before announcing them.
DECIDED_BEFORE_ANNOUNCEMENT = timedelta(days=7)
WAITING_LIST_SIZE = 3


def _retour(candidature) -> str:
    """A juror's feedback to quote in the letter, when one was written."""
    feedback = decisions_services.jury_feedback(candidature)
    return feedback[0] if feedback else ""


def seed_decisions(appel, *, staff_user) -> dict:
    """Stage a decision for each submitted dossier of ``appel`` still without one.

    The jury's ranking decides (weighted mean, unscored dossiers last): the first ones are
    retained up to the call's places, the next ``WAITING_LIST_SIZE`` (3) go on the
    waiting list in that order, the others are not retained. Idempotent: existing decisions
    are kept and counted, so a second run creates nothing. Also gives the call its three
    letter templates. Returns the counts per issue and how many were created.
    """
    letter_templates.ensure_modeles_courrier(appel)
    decided = dict(
        Decision.objects.filter(candidature__appel=appel).values_list("candidature", "issue")
    )
    counts = {issue: list(decided.values()).count(issue) for issue in Issue.values}
    created = 0
    moment = min(timezone.now(), appel.announcement_at - DECIDED_BEFORE_ANNOUNCEMENT)
    dossiers = {c.pk: c for c in appel.candidatures.deposees().select_related("collectivite")}
    for row in ranking.build_ranking(appel).rows:
        candidature = dossiers.get(row.dossier.pk)
        if candidature is None or candidature.pk in decided:
            continue
        if counts[Issue.RETENUE] < appel.places:
            issue = Issue.RETENUE
        elif counts[Issue.LISTE_ATTENTE] < WAITING_LIST_SIZE:
            issue = Issue.LISTE_ATTENTE
        else:
            issue = Issue.NON_RETENUE
        decisions_services.decide(
            candidature=candidature,
            issue=issue,
            motivation=decisions_services.default_motivation(issue, appel),
            retour_jury=_retour(candidature),
            staff_user=staff_user,
            now=moment,
        )
        counts[issue] += 1
        created += 1
    return {
        "retenues": counts[Issue.RETENUE],
        "liste_attente": counts[Issue.LISTE_ATTENTE],
        "non_retenues": counts[Issue.NON_RETENUE],
        "creees": created,
    }


def publish_on_announcement(appel, *, staff_user) -> int:
    """Publish the call's staged decisions on its announcement day, sending nothing; returns
    how many. The 2021 decisions read « publiée le 15 avril 2021 » and their letters are dated
    that day, not the day the demo was loaded; the e-mails wait for « Publier les décisions »."""
    unpublished = Decision.objects.filter(candidature__appel=appel, published_at__isnull=True)
    count = unpublished.count()
    if count:
        publication.publish_decisions(
            appel=appel, now=appel.announcement_at, staff_user=staff_user, send=False
        )
    return count
