"""Helpers shared by the test_letters* modules."""

import io
import zoneinfo
from datetime import datetime

import pypdf

from candidatures.decisions import letters
from candidatures.models import Candidature, Decision, Issue
from tests.candidatures.factories import complete_candidature, numbered
from tests.utils import pdf_pages

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


NBSP = "\u00a0"


NNBSP = "\u202f"


WJ = "\u2060"  # word joiner


MODELES_URL = "/admin/candidatures/modelecourrier/"


def read_pdf(data: bytes):
    """(reader, text of each page with whitespace collapsed)."""
    return pypdf.PdfReader(io.BytesIO(data)), pdf_pages(data)


def deposee(appel, number, **fields):
    """A complete dossier, submitted (numbered) without going through the submission flow."""
    candidature = complete_candidature(appel=appel, **fields)
    candidature.statut = Candidature.Statut.DEPOSEE
    candidature.numero = numbered(appel, number)
    candidature.deposee_at = datetime(2021, 3, 1, 10, number, tzinfo=PARIS)
    candidature.save()
    return candidature


MOTIVATIONS = {
    Issue.RETENUE: "Une dynamique de transition portée par les élu·es et les habitant·es.",
    Issue.LISTE_ATTENTE: "Un projet solide, un peu moins avancé que ceux retenus.",
    Issue.NON_RETENUE: "Le binôme élu·e / technicien·ne n'est pas encore constitué.",
}


WORDING = {
    Issue.RETENUE: "la candidature d'Arras (dossier n° AMI-2021-007) est retenue pour le cycle "
    "de qualification « Vers des territoires participatifs en Hauts-de-France ».",
    Issue.LISTE_ATTENTE: "Votre candidature est inscrite sur la liste d'attente, au rang 2.",
    Issue.NON_RETENUE: "Nous ne sommes malheureusement pas en mesure de retenir la vôtre pour "
    "ce cycle.",
}


def decide(candidature, issue, **fields):
    defaults = {
        "motivation": MOTIVATIONS[issue],
        "rang_attente": 2 if issue == Issue.LISTE_ATTENTE else None,
    }
    return Decision.objects.create(candidature=candidature, issue=issue, **{**defaults, **fields})


def _seed_letter(decision, **kwargs) -> str:
    _, pages = read_pdf(letters.render_letter_pdf(decision, **kwargs))
    return " ".join(pages)
