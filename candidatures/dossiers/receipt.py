"""The submission receipt (accusé de réception), a PDF.

The receipt is rendered from a ``Depot``'s frozen ``contenu`` only, never from the live
candidature: it must show exactly what was submitted, even after the dossier is reopened.
"""

from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from cerdd_ami import files
from cerdd_ami.formats import NBSP, filesize_fr, format_date_fr, format_datetime_fr
from cerdd_ami.pdf import french_typography, pdf_from_html


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
