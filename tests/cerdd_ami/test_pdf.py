"""The shared PDF renderer and the French typography of fixed texts (cerdd_ami.pdf)."""

import io

import pypdf
import pytest

from cerdd_ami import pdf
from tests.utils import pdf_text

NBSP = "\u00a0"
NNBSP = "\u202f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Numéro :", f"Numéro{NBSP}:"),
        ("Numéro:", f"Numéro{NBSP}:"),
        ("Et maintenant ?", f"Et maintenant{NNBSP}?"),
        ("Merci !", f"Merci{NNBSP}!"),
        ("Merci!", f"Merci{NNBSP}!"),
        ("un ; deux", f"un{NNBSP}; deux"),
        ("« Territoires participatifs »", f"«{NBSP}Territoires participatifs{NBSP}»"),
        ("Dépôt n° 2", f"Dépôt n°{NBSP}2"),
        ("https://www.cerdd.org", "https://www.cerdd.org"),
        ("Séance à 9:30", "Séance à 9:30"),
        ("", ""),
    ],
)
def test_french_typography_places_no_break_spaces(text, expected):
    assert pdf.french_typography(text) == expected


def test_french_typography_is_idempotent():
    once = pdf.french_typography("« Pourquoi ? » : voilà !")

    assert pdf.french_typography(once) == once
    assert once == f"«{NBSP}Pourquoi{NNBSP}?{NBSP}»{NBSP}: voilà{NNBSP}!"


def test_pdf_from_html_renders_a_document():
    data = pdf.pdf_from_html(
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Essai</title></head>'
        "<body><p>Décision du jury</p></body></html>"
    )

    reader = pypdf.PdfReader(io.BytesIO(data))
    assert data.startswith(b"%PDF-")
    assert reader.metadata.title == "Essai"
    assert "Décision du jury" in pdf_text(data)


def test_pdf_from_html_fetches_nothing_outside_the_projects_static_files():
    fetcher = pdf._LocalOnlyFetcher()

    with pytest.raises(ValueError, match="disallowed protocol"):
        fetcher.fetch("http://example.com/logo.png")
    with pytest.raises(ValueError, match="hors des ressources du projet"):
        fetcher.fetch("file:///etc/hostname")
    # A page referencing such files still renders, without them.
    data = pdf.pdf_from_html(
        '<html><body><img src="file:///etc/hostname"><p>Sans image</p></body></html>'
    )
    assert "Sans image" in pdf_text(data)
