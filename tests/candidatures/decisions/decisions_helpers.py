"""Helpers of the décisions tests (test_decisions*, test_withdrawal, test_exports,
test_publication_tasks), also used by tests/candidatures/test_killed_mid_work.py.
"""

import zoneinfo
from datetime import datetime

import weasyprint

from candidatures.decisions import services as decisions_services
from candidatures.models import Candidature, Decision, Issue
from tests.candidatures.factories import complete_candidature

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


ANNOUNCEMENT = datetime(2021, 4, 15, 9, 0, tzinfo=PARIS)


DECIDED = datetime(2021, 4, 8, 14, 0, tzinfo=PARIS)


LATER = datetime(2021, 4, 15, 9, 10, tzinfo=PARIS)


MOTIVATIONS = {
    Issue.RETENUE: "Une dynamique de transition portée par les élu·es et les habitant·es.",
    Issue.LISTE_ATTENTE: "Un projet solide, un peu moins avancé que ceux retenus.",
    Issue.NON_RETENUE: "Le binôme élu·e et technicien·ne reste à constituer.",
}


RETOUR = "Le jury salue votre budget participatif et vous encourage à associer les jeunes."


def deposee(appel, number, **fields):
    """A complete dossier, submitted (numbered) without going through the submission flow."""
    candidature = complete_candidature(appel=appel, **fields)
    candidature.statut = Candidature.Statut.DEPOSEE
    candidature.numero = f"AMI-2021-{number:03d}"
    candidature.deposee_at = datetime(2021, 3, 1, 10, number, tzinfo=PARIS)
    candidature.save()
    return candidature


def decide(candidature, issue, staff, **fields):
    return decisions_services.decide(
        candidature=candidature,
        issue=issue,
        motivation=fields.pop("motivation", MOTIVATIONS[issue]),
        staff_user=staff,
        now=fields.pop("now", DECIDED),
        **fields,
    )


def waiting_list():
    return [
        (decision.candidature.numero, decision.rang_attente)
        for decision in Decision.objects.filter(issue=Issue.LISTE_ATTENTE).order_by("rang_attente")
    ]


def referents(candidature):
    return [candidature.ref_pol_email, candidature.ref_tech_email]


class HTMLFailingFor002(weasyprint.HTML):
    """WeasyPrint, except that it cannot lay out the letter of dossier AMI-2021-002."""

    def __init__(self, *args, string=None, **kwargs):
        if string and "AMI-2021-002" in string:
            raise OSError("mise en page impossible")
        super().__init__(*args, string=string, **kwargs)


DECISIONS_URL = "/admin/candidatures/decision/"


SUBMITTED_URL = "/admin/candidatures/candidature/"


APPELS_URL = "/admin/candidatures/appel/"


PUBLISHED_IN_BACKGROUND = (
    "Les courriers sont classés et envoyés par e-mail en tâche de fond : suivez-les dans "
    "« Envois de courrier » ; un envoi en échec est retenté, rien de ce qui est parti n'est "
    "renvoyé."
)
