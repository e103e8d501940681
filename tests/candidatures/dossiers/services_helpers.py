"""Helpers shared by the dossier workflow tests (test_services, test_submission*)."""

import zoneinfo
from datetime import datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.candidatures.factories import tiny_pdf_bytes

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


ARRAS_REF_POL = "claire.dupont@arras.exemple.test"


ARRAS_REF_TECH = "julien.martin@arras.exemple.test"


DEADLINE_PASSED = (
    "La date limite de dépôt (12 mars 2021 à 23 h 59 Paris) est dépassée : "
    "le dossier ne peut plus être déposé."
)


BAD_TYPE = (
    "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, quel que soit son nom."
)


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def words(text: str) -> str:
    return " ".join(text.split())


def events(candidature):
    return list(
        candidature.evenements.order_by("pk").values_list(
            "nature", "statut_avant", "statut_apres", "actor", "detail"
        )
    )


def pdf_upload(name="lettre.pdf", text="Lettre de motivation"):
    return SimpleUploadedFile(name, tiny_pdf_bytes(text), content_type="application/pdf")


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
