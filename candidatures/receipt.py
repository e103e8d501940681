"""PDF documents: the submission receipt, and the helpers later PDFs (decision letters) reuse.

The receipt is rendered from a ``Depot``'s frozen ``contenu`` only, never from the live
candidature: it must show exactly what was submitted, even after the dossier is reopened.
"""

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML
from weasyprint.urls import URLFetcher

# French dates and times live in cerdd_ami.formats (one style for web pages, PDFs and
# e-mails); these names stay importable from here for the modules that use them.
from cerdd_ami.formats import (  # noqa: F401
    MONTHS,
    format_date_fr,
    format_datetime_fr,
    format_time_fr,
    paris,
)

from . import files

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space, before ; ! ? in French typography


def filesize_fr(size: int) -> str:
    """« 532 octets », « 12,4 Ko », « 1,5 Mo »: French units, decimal comma, no-break space."""
    if size < 1024:
        unit = "octet" if size <= 1 else "octets"
        return f"{size}{NBSP}{unit}"
    value = float(size)
    for unit in ("Ko", "Mo", "Go"):
        value /= 1024
        if value < 1024 or unit == "Go":
            break
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text}{NBSP}{unit}"


def de_nom(nom: str) -> str:
    """« de » before a collectivité's name, elided or contracted: d'Arras, du Portel, des Moëres."""
    nom = nom or ""
    if nom.startswith("Le "):
        return "du " + nom[3:]
    if nom.startswith("Les "):
        return "des " + nom[4:]
    if nom[:1].upper() in "AEIOUYÂÀÉÈÊÎÏÔÛŒ":
        return "d'" + nom
    return "de " + nom


_SPACE_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]+:")
_SPACE_BEFORE_HIGH_PUNCT = re.compile(r"[ \u00a0\u202f]+([;!?])")
# A colon glued to a word and followed by a space or the end ("Numéro:"), never "https://" or
# "12:30".
_GLUED_COLON = re.compile(r"(?<=[^\s\d/])(?=:(?:\s|$))")
_GLUED_HIGH_PUNCT = re.compile(r"(?<=[^\s\d/!?;])(?=[;!?]+(?:\s|$))")


def french_typography(text: str) -> str:
    """Non-breaking spaces where French typography wants them, for labels and fixed texts.

    A no-break space before « : » and inside « guillemets », a narrow one before ; ! ?, and one
    after « n° ». Never applied to applicants' answers: the receipt reproduces them verbatim.
    """
    if not text:
        return text or ""
    text = str(text)
    text = _SPACE_BEFORE_COLON.sub(f"{NBSP}:", text)
    text = _GLUED_COLON.sub(NBSP, text)
    text = _SPACE_BEFORE_HIGH_PUNCT.sub(rf"{NNBSP}\1", text)
    text = _GLUED_HIGH_PUNCT.sub(NNBSP, text)
    text = re.sub(r"«[ \u00a0\u202f]*", f"«{NBSP}", text)
    text = re.sub(r"[ \u00a0\u202f]*»", f"{NBSP}»", text)
    text = re.sub(r"\b([nN])° +", rf"\1°{NBSP}", text)
    return text


# ---------------------------------------------------------------------------------------------
# Rendering


class _LocalOnlyFetcher(URLFetcher):
    """Lets a PDF load data: URLs and the project's own static files, nothing else.

    Templates are rendered with applicants' text; even escaped, nothing in a PDF should make
    the server fetch a remote address or read an arbitrary local file.
    """

    def __init__(self, **kwargs):
        super().__init__(allowed_protocols={"data", "file"}, **kwargs)
        roots = [Path(settings.BASE_DIR) / "static", Path(settings.STATIC_ROOT)]
        roots += [Path(directory) for directory in settings.STATICFILES_DIRS]
        self._roots = [root.resolve() for root in roots]

    def fetch(self, url, headers=None):
        if url.lower().startswith("file:"):
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not any(path.is_relative_to(root) for root in self._roots):
                raise ValueError(f"Fichier hors des ressources du projet : {url}")
        return super().fetch(url, headers)


def pdf_from_html(html: str, *, base_url=None) -> bytes:
    """Render an HTML document (usually a ``templates/pdf/*.html``) to PDF bytes.

    ``base_url`` resolves relative URLs (images, fonts) against the project's static files;
    anything outside them is refused. The PDF is tagged for screen readers.
    """
    document = HTML(string=html, base_url=base_url, url_fetcher=_LocalOnlyFetcher())
    return document.write_pdf(pdf_tags=True)


def _parse_datetime(value):
    if not value:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def receipt_context(contenu: dict) -> dict:
    """What ``templates/pdf/recu.html`` shows, computed from a frozen snapshot only."""
    submitted_at = _parse_datetime(contenu.get("submitted_at"))
    collectivite = contenu.get("collectivite", {})
    sections = [
        {"titre": french_typography(section["titre"]), "groupes": _groups(section)}
        for section in contenu.get("sections", [])
    ]
    pieces = [
        {
            "nature": piece.get("nature_libelle", ""),
            "nom": piece["nom"],
            "type": files.accepted_types(images_allowed=True).get(piece["type"], piece["type"]),
            "taille": filesize_fr(piece["taille"]),
            "sha256": piece["sha256"],
        }
        for piece in contenu.get("pieces", [])
    ]
    appel = contenu.get("appel", {})
    announcement_at = _parse_datetime(appel.get("announcement_at"))
    submitted_by = contenu.get("submitted_by") or {}
    return {
        "numero": contenu.get("numero", ""),
        "version": contenu.get("version", 1),
        "appel_titre": appel.get("titre", ""),
        "collectivite": collectivite,
        "collectivite_detail": french_typography(_collectivite_detail(collectivite)),
        "submitted_at": format_datetime_fr(submitted_at, seconds=True) if submitted_at else "",
        "submitted_date": format_date_fr(submitted_at) if submitted_at else "",
        "submitted_by": submitted_by,
        "announcement": format_date_fr(announcement_at) if announcement_at else "",
        "sections": sections,
        "pieces": pieces,
    }


def _groups(section: dict) -> list[dict]:
    """A section's answers, grouped by person (référent·es) in their order of appearance.

    Short answers print as « label : value » rows, long ones (or multi-line) as a question
    followed by the text; a group left entirely empty prints once as « Non renseigné ».
    """
    groups = []
    for answer in section.get("reponses", []):
        title = french_typography(answer.get("groupe", ""))
        if not groups or groups[-1]["titre"] != title:
            groups.append({"titre": title, "reponses": []})
        value = answer.get("valeur", "")
        label = answer["libelle"]
        groups[-1]["reponses"].append(
            {
                "libelle": french_typography(label),
                "valeur": value,
                "long": "\n" in value or len(value) > 90 or len(label) > 45,
            }
        )
    for group in groups:
        group["vide"] = bool(group["titre"]) and not any(a["valeur"] for a in group["reponses"])
    return groups


def _collectivite_detail(collectivite: dict) -> str:
    parts = [collectivite.get("nature_libelle", "")]
    if collectivite.get("insee"):
        parts.append(f"code INSEE{NBSP}{collectivite['insee']}")
    if collectivite.get("siren"):
        parts.append(f"SIREN{NBSP}{collectivite['siren']}")
    if collectivite.get("departement"):
        parts.append(f"département{NBSP}{collectivite['departement']}")
    return " — ".join(part for part in parts if part)


def render_receipt_html(depot) -> str:
    with translation.override("fr"):
        return render_to_string("pdf/recu.html", receipt_context(depot.contenu))


def render_receipt_pdf(depot) -> bytes:
    """The receipt of one submission, as PDF bytes, from ``depot.contenu`` alone."""
    return pdf_from_html(render_receipt_html(depot), base_url=str(settings.BASE_DIR / "static"))
