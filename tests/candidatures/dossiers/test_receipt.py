import io
import zoneinfo
from datetime import datetime

import pypdf
import pytest

from candidatures.dossiers import receipt, submission
from candidatures.models import PieceJointe
from tests.candidatures.factories import (
    AppelFactory,
    PieceJointeFactory,
    answer,
    complete_candidature,
    tiny_pdf_bytes,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
NNBSP = "\u202f"


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def read_pdf(data: bytes):
    reader = pypdf.PdfReader(io.BytesIO(data))
    raw = "\n".join(page.extract_text() for page in reader.pages)
    return reader, raw, " ".join(raw.split())


@pytest.fixture
def submitted():
    """Arras's dossier submitted on the last second of the 2021 call, with two attachments."""
    appel = AppelFactory(edition_2021=True)
    user = UserFactory(
        email="julien.martin@arras.exemple.test", first_name="Julien", last_name="Martin"
    )
    candidature = complete_candidature(
        appel=appel,
        createur=user,
        motivations="Première ligne des motivations.\nDeuxième ligne, après un retour.",
    )
    PieceJointeFactory(
        candidature=candidature,
        nature=PieceJointe.Nature.COMPLEMENTAIRE,
        nom_original="deliberation-conseil-municipal.pdf",
        contenu=tiny_pdf_bytes("Délibération"),
    )
    depot = submission.submit_candidature(
        candidature=candidature, user=user, now=paris(2021, 3, 12, 23, 59, 59)
    )
    return candidature, depot


# ---------------------------------------------------------------------------------------------
# The receipt PDF


def test_render_receipt_pdf_holds_the_whole_dossier(submitted):
    candidature, depot = submitted
    letter, annex = (
        candidature.pieces.get(question__code="lettre"),
        candidature.pieces.get(question__code="complement"),
    )

    reader, _raw, text = read_pdf(receipt.render_receipt_pdf(depot))

    assert reader.metadata.title == "Accusé de réception — AMI-2021-001 — Arras"
    assert "Cerdd — Accusé de réception" in text
    assert "Vers des territoires participatifs en Hauts-de-France" in text
    assert "AMI-2021-001" in text
    assert "Arras" in text
    assert "Commune — code INSEE 62041 — SIREN 216200410 — département 62" in text
    assert "12 mars 2021 à 23 h 59 min 59 s (heure de Paris)" in text
    assert "Julien Martin (julien.martin@arras.exemple.test)" in text
    for heading in ("Coordonnées", "Référent·es", "Motivations et projet", "Engagements"):
        assert heading in text
    assert "Référent·e politique (élu·e)" in text
    assert "claire.dupont@arras.exemple.test" in text
    assert "Adjointe déléguée à la démocratie participative" in text
    assert "Budget participatif depuis 2019." in text
    assert "La collectivité garantit la présence d'un binôme élu·e / technicien·ne" in text
    assert "lettre-de-motivation.pdf" in text
    assert "deliberation-conseil-municipal.pdf" in text
    assert letter.sha256 in text
    assert annex.sha256 in text
    assert "La réponse sera adressée aux collectivités candidates le 15 avril 2021." in text


def test_render_receipt_pdf_keeps_the_answers_line_breaks(submitted):
    _candidature, depot = submitted

    _reader, raw, _text = read_pdf(receipt.render_receipt_pdf(depot))

    assert "Première ligne des motivations.\nDeuxième ligne, après un retour." in raw


def test_render_receipt_pdf_is_a4_with_page_numbers(submitted):
    _candidature, depot = submitted

    reader, _raw, text = read_pdf(receipt.render_receipt_pdf(depot))

    pages = len(reader.pages)
    assert pages >= 2
    for number in range(1, pages + 1):
        assert f"page {number} sur {pages}" in text
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(width * 25.4 / 72), round(height * 25.4 / 72)) == (210, 297)


def test_render_receipt_pdf_shows_what_was_submitted_not_the_live_dossier(submitted):
    candidature, depot = submitted
    answer(candidature, "motivations", "Texte écrit après le dépôt.")
    candidature.ref_pol_nom = "Quelqu'un d'autre"
    candidature.save()
    candidature.pieces.filter(question__code="complement").delete()

    _reader, _raw, text = read_pdf(receipt.render_receipt_pdf(depot))

    assert "Première ligne des motivations." in text
    assert "Claire Dupont" in text
    assert "deliberation-conseil-municipal.pdf" in text
    assert "Texte écrit après le dépôt." not in text
    assert "Quelqu'un d'autre" not in text


def test_render_receipt_pdf_escapes_the_answers(submitted):
    _candidature, depot = submitted
    depot.contenu["sections"][2]["reponses"][0]["valeur"] = "<b>gras</b> & <img src=x>"

    _reader, _raw, text = read_pdf(receipt.render_receipt_pdf(depot))

    assert "<b>gras</b> & <img src=x>" in text


def test_render_receipt_pdf_types_labels_the_french_way(submitted):
    _candidature, depot = submitted

    _reader, raw, _text = read_pdf(receipt.render_receipt_pdf(depot))

    assert f"Numéro du dossier{NBSP}:" in raw
    assert f"page{NBSP}1{NBSP}sur{NBSP}" in raw


def test_tiny_pdf_bytes_is_a_real_pdf_with_its_text():
    _reader, _raw, text = read_pdf(tiny_pdf_bytes("Lettre de la commune d'Arras"))

    assert "Lettre de la commune d'Arras" in text
