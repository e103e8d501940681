"""Decision letters: one text per outcome (``ModeleCourrier``), rendered as A4 PDF letters.

A letter's body is plain text in Django template syntax, written by staff in the admin: the
placeholders of ``letter_templates.PLACEHOLDERS`` are its only variables, French typography is
applied to the rendered text, blank lines separate paragraphs. The page around it (letterhead,
recipient, « À Loos-en-Gohelle, le 15 avril 2021 », subject, signature) is
``templates/pdf/courrier.html``.

Many letters are laid out as ONE HTML document with a page break before each letter, in a
single WeasyPrint call: fonts and CSS are loaded once, which is what makes 200 letters much
cheaper than 200 separate renders. The ZIP export, which needs one file per letter, does render
them one by one.

Progress callbacks receive ``(done, total, step)``, ``step`` being a short French label of what
is being done (« Préparation des courriers », « Mise en page du PDF », « Courriers PDF »).
"""

from __future__ import annotations

import base64
import io
import itertools
import logging
import re
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime

import pypdf
from django.conf import settings
from django.db.models import QuerySet
from django.template import Context
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import slugify
from weasyprint import HTML

from cerdd_ami.formats import de_nom, format_date_fr, format_month_span, paris
from cerdd_ami.pdf import _LocalOnlyFetcher, french_typography, pdf_from_html

from .letter_templates import CYCLE_MONTHS, Personne, _engine, seed_text
from .models import Courrier, Decision, Issue, ModeleCourrier

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


# ---------------------------------------------------------------------------------------------
# Context


def _as_date(value: date | datetime) -> date:
    return paris(value).date() if isinstance(value, datetime) else value


def _cycle_dates(first_session: date | None) -> str:
    """« de mai 2021 à mars 2022 », « d'octobre 2021 à août 2022 »; "" without a first session."""
    return format_month_span(first_session, CYCLE_MONTHS)


class _CallData:
    """What every letter of one call shares, computed once per batch."""

    def __init__(self, appel):
        self.appel = appel
        self._nb_retenues = None
        self._modeles = None
        self._templates = {}
        self._signature = None

    @property
    def nb_retenues(self) -> int:
        if self.appel.pk is None:
            return 0  # an unsaved call (a preview) has no decisions yet
        if self._nb_retenues is None:
            self._nb_retenues = Decision.objects.filter(
                candidature__appel=self.appel, issue=Issue.RETENUE, desistement_at__isnull=True
            ).count()
        return self._nb_retenues

    def texts(self, issue: str) -> tuple[str, str]:
        """(objet, corps) of the call's template for ``issue``, else the seed text."""
        if self._modeles is None and self.appel.pk is None:
            self._modeles = {}
        if self._modeles is None:
            self._modeles = {
                modele.issue: (modele.objet, modele.corps)
                for modele in ModeleCourrier.objects.filter(appel=self.appel)
            }
        return self._modeles.get(issue) or seed_text(issue, self.appel)

    def template(self, source: str):
        if source not in self._templates:
            self._templates[source] = _engine().from_string(source)
        return self._templates[source]

    @property
    def signature_src(self) -> str:
        """The signature image as a data: URL (the PDF fetcher reads nothing from media)."""
        if self._signature is None:
            self._signature = signature_data_url(self.appel)
        return self._signature


def signature_data_url(appel) -> str:
    if not appel.signature:
        return ""
    try:
        with appel.signature.open("rb") as image:
            data = image.read(2 * 1024 * 1024 + 1)
    except OSError:
        logger.warning("Signature introuvable pour l'appel %s : %s", appel.pk, appel.signature)
        return ""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    else:
        logger.warning("Signature de l'appel %s : ni PNG ni JPEG, ignorée.", appel.pk)
        return ""
    if len(data) > 2 * 1024 * 1024:
        logger.warning("Signature de l'appel %s : plus de 2 Mo, ignorée.", appel.pk)
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _resolve_letter_date(decision, letter_date) -> date:
    if letter_date is not None:
        return _as_date(letter_date)
    appel = decision.candidature.appel
    published = decision.published_at or appel.decisions_published_at
    return _as_date(published or appel.announcement_at)


# The official list abbreviates EPCI names (« CU d'Arras »); a letter spells them out.
EPCI_PREFIXES = {
    "CC ": "Communauté de communes ",
    "CA ": "Communauté d'agglomération ",
    "CU ": "Communauté urbaine ",
}


def collectivite_names(collectivite) -> tuple[str, str]:
    """(name, « de » + name) as a letter writes them: « Arras », « d'Arras »; « Communauté
    urbaine d'Arras », « de la Communauté urbaine d'Arras » (every EPCI kind is feminine)."""
    nom = collectivite.nom
    if collectivite.nature == collectivite.Nature.COMMUNE:
        return nom, de_nom(nom)
    for short, full in EPCI_PREFIXES.items():
        if nom.startswith(short):
            nom = full + nom[len(short) :]
            break
    return nom, f"de la {nom}"


def _build_context(decision, call: _CallData, letter_date) -> dict:
    candidature = decision.candidature
    appel = call.appel
    nom, nom_de = collectivite_names(candidature.collectivite)
    dated = _resolve_letter_date(decision, letter_date)
    first_session = appel.first_session_date
    return {
        "collectivite": nom,
        "collectivite_de": nom_de,
        "referent_politique": Personne(
            candidature.ref_pol_nom, candidature.ref_pol_fonction, candidature.ref_pol_email
        ),
        "referent_technique": Personne(
            candidature.ref_tech_nom, candidature.ref_tech_fonction, candidature.ref_tech_email
        ),
        "issue": decision.get_issue_display(),
        "motivation": decision.motivation,
        "retour_jury": decision.retour_jury,
        "places": appel.places,
        "nb_retenues": call.nb_retenues,
        "cycle_dates": _cycle_dates(appel.first_session_date),
        "premiere_seance_date": (
            format_date_fr(appel.first_session_date) if appel.first_session_date else ""
        ),
        "premiere_seance_lieu": appel.first_session_place,
        "premiere_seance_passee": bool(first_session and dated > first_session),
        "contact": Personne(appel.contact_nom, appel.contact_fonction, appel.contact_email),
        "date_courrier": format_date_fr(dated),
        "numero": candidature.numero,
        "rang_attente": decision.rang_attente or "",
        "appel": appel.titre,
        "signataire": Personne(
            appel.signataire_nom, appel.signataire_fonction, appel.signataire_email
        ),
    }


def letter_context(decision, *, letter_date=None) -> dict:
    """The placeholders of ``decision``'s letter (keys: the names of ``PLACEHOLDERS``).

    ``letter_date`` defaults to the publication date once published, else to the call's
    announcement date (both read in Europe/Paris). Works on an unsaved ``Decision`` too.
    """
    return _build_context(decision, _CallData(decision.candidature.appel), letter_date)


# ---------------------------------------------------------------------------------------------
# Rendering


# Hyphenated words and codes (Loos-en-Gohelle, Hauts-de-France, AMI-2021-007) are kept on one
# line: a break after their hyphen reads as a hyphenation mistake. A WORD JOINER after each
# hyphen forbids that break; it is invisible, and absent from the PDF's text (copy, search).
# It costs nothing to lay out, where a nowrap span per word cost 12 % of a batch's time.
# Long tokens (URLs) may still break.
WORD_JOINER = "\u2060"
_HYPHENATED = re.compile(r"\w+(?:-\w+)+")
_NOWRAP_MAX = 30


def _keep_hyphenated_words(text: str) -> str:
    return _HYPHENATED.sub(
        lambda match: (
            match[0].replace("-", "-" + WORD_JOINER) if len(match[0]) <= _NOWRAP_MAX else match[0]
        ),
        text,
    )


def _paragraphs(text: str) -> list[list[str]]:
    """Blank lines separate paragraphs; single line breaks are kept inside a paragraph."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n[ \t\u00a0]*\n", text)
    paragraphs = []
    for block in blocks:
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if lines:
            paragraphs.append(lines)
    return paragraphs


def _letter(decision, call: _CallData, letter_date) -> dict:
    """Everything ``templates/pdf/courrier.html`` shows for one letter."""
    context = _build_context(decision, call, letter_date)
    objet, corps = call.texts(decision.issue)
    render_context = Context(context, autoescape=False)
    body = _keep_hyphenated_words(french_typography(call.template(corps).render(render_context)))
    subject = french_typography(call.template(objet).render(render_context)).strip()
    subject = _keep_hyphenated_words(subject)
    candidature = decision.candidature
    appel = call.appel
    collectivite = candidature.collectivite
    destinataire = [
        candidature.ref_pol_nom,
        candidature.ref_pol_fonction,
        f"Commune {context['collectivite_de']}"
        if collectivite.nature == collectivite.Nature.COMMUNE
        else context["collectivite"],
        candidature.adresse,
        " ".join(part for part in (candidature.code_postal, candidature.ville) if part),
    ]
    return {
        "entete": [line.strip() for line in appel.entete_courrier.splitlines() if line.strip()],
        "numero": candidature.numero,
        "contact": context["contact"],
        "destinataire": [line for line in destinataire if line],
        "lieu_date": f"À {appel.lieu_courrier}, le {context['date_courrier']}",
        "objet": subject,
        "paragraphes": _paragraphs(body),
        "signataire": context["signataire"],
        "signature_src": call.signature_src,
    }


def _call_of(decision, calls: dict) -> _CallData:
    """The batch's shared data for the decision's call (an unsaved call counts by identity)."""
    appel = decision.candidature.appel
    key = appel.pk if appel.pk is not None else id(appel)
    if key not in calls:
        calls[key] = _CallData(appel)
    return calls[key]


def _letters(decisions, letter_date, progress: Progress | None, step: str) -> list[dict]:
    calls: dict = {}
    letters = []
    total = len(decisions)
    for done, decision in enumerate(decisions, start=1):
        letters.append(_letter(decision, _call_of(decision, calls), letter_date))
        if progress:
            progress(done, total, step)
    return letters


# Line breaks and indentation between tags: the template's layout, not the letter's text
# (inline content always sits on one line). Dropping them spares WeasyPrint thousands of
# whitespace-only boxes in a batch.
_INDENTATION = re.compile(r">\n\s*<")


def _document_html(letters: list[dict], title: str) -> str:
    with translation.override("fr"):
        html = render_to_string("pdf/courrier.html", {"lettres": letters, "titre": title})
    return _INDENTATION.sub("><", html)


def _title(decision) -> str:
    candidature = decision.candidature
    parts = ["Courrier", candidature.collectivite.nom, candidature.numero]
    return " — ".join(part for part in parts if part)


def render_letter_html(decision, *, letter_date=None) -> str:
    """One decision letter as a complete HTML document (``templates/pdf/courrier.html``)."""
    letters = _letters([decision], letter_date, None, "")
    return _document_html(letters, _title(decision))


def _pdf(html: str, *, tagged: bool = True) -> bytes:
    base_url = str(settings.BASE_DIR / "static")
    if tagged:
        return pdf_from_html(html, base_url=base_url)
    # pdf_from_html's own fetcher, without PDF tags: WeasyPrint's tagging looks up every page
    # for every marked element, a cost that grows with the square of the page count.
    return HTML(string=html, base_url=base_url, url_fetcher=_LocalOnlyFetcher()).write_pdf()


def render_letter_pdf(decision, *, letter_date=None) -> bytes:
    """One decision letter as PDF bytes."""
    return _pdf(render_letter_html(decision, letter_date=letter_date))


def _as_list(decisions: Iterable) -> list:
    if isinstance(decisions, QuerySet):
        decisions = decisions.select_related("candidature__appel", "candidature__collectivite")
    decisions = list(decisions)
    if not decisions:
        raise ValueError("Aucun courrier à produire : la sélection est vide.")
    return decisions


def _render_merged(decisions: list, letter_date, progress: Progress | None) -> bytes:
    """``decisions``' letters rendered now as ONE PDF, in a single WeasyPrint call."""
    letters = _letters(decisions, letter_date, progress, "Préparation des courriers")
    appel = decisions[0].candidature.appel
    html = _document_html(letters, f"Courriers de décision — {appel.titre}")
    del letters
    if progress:
        progress(0, 1, "Mise en page du PDF")
    # Untagged: this document is for printing; each letter sent by e-mail is tagged.
    pdf = _pdf(html, tagged=False)
    if progress:
        progress(1, 1, "Mise en page du PDF")
    return pdf


def latest_filed(decisions: Iterable) -> dict[int, Courrier]:
    """The latest filed letter (highest version) of each decision that has one, by pk."""
    ids = [decision.pk for decision in decisions if decision.pk is not None]
    latest: dict[int, Courrier] = {}
    for courrier in Courrier.objects.filter(decision_id__in=ids).order_by("decision_id", "version"):
        latest[courrier.decision_id] = courrier
    return latest


def _stored_pdf(courrier: Courrier) -> bytes:
    with courrier.pdf.open("rb") as handle:
        return handle.read()


def render_letters_merged_pdf(decisions, *, letter_date=None, progress=None) -> bytes:
    """All letters, in the given order, as ONE PDF to print (each letter starts a new page).

    A decision whose letter is filed (``Courrier``) comes as that filed PDF, as it was sent,
    whatever the templates or data say now (``letter_date`` does not apply to it); the others
    are rendered now, laid out as one HTML document in a single WeasyPrint call per run of
    consecutive unfiled letters. ``progress`` follows the preparation of each letter, then the
    layout of the whole document (one step); with filed letters, it counts the letters added.
    """
    decisions = _as_list(decisions)
    filed = latest_filed(decisions)
    if not filed:
        return _render_merged(decisions, letter_date, progress)
    if len(decisions) == 1:
        return _stored_pdf(filed[decisions[0].pk])
    writer = pypdf.PdfWriter()
    total, done = len(decisions), 0
    for is_filed, group in itertools.groupby(decisions, key=lambda d: d.pk in filed):
        group = list(group)
        if is_filed:
            for decision in group:
                writer.append(io.BytesIO(_stored_pdf(filed[decision.pk])))
        else:
            writer.append(io.BytesIO(_render_merged(group, letter_date, None)))
        done += len(group)
        if progress:
            progress(done, total, "Courriers PDF")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def letter_filename(decision) -> str:
    """« arras-ami-2021-007.pdf »: the collectivité first, so that files sort by name."""
    candidature = decision.candidature
    stem = slugify(f"{candidature.collectivite.nom} {candidature.numero}") or "courrier"
    return f"{stem}.pdf"


def letters_zip(decisions, *, letter_date=None, progress=None) -> bytes:
    """One PDF per letter in a ZIP, named by ``letter_filename``: a filed letter's stored bytes
    as they are (the latest version), the others rendered now, one by one."""
    decisions = _as_list(decisions)
    filed = latest_filed(decisions)
    buffer = io.BytesIO()
    used: set[str] = set()
    calls: dict = {}
    total = len(decisions)
    # Stored, not deflated: PDF streams are already compressed, deflating them gains nothing.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for done, decision in enumerate(decisions, start=1):
            name = letter_filename(decision)
            stem, counter = name.removesuffix(".pdf"), 2
            while name in used:
                name, counter = f"{stem}-{counter}.pdf", counter + 1
            used.add(name)
            if decision.pk in filed:
                pdf = _stored_pdf(filed[decision.pk])
            else:
                letter = _letter(decision, _call_of(decision, calls), letter_date)
                pdf = _pdf(_document_html([letter], _title(decision)))
            archive.writestr(name, pdf)
            if progress:
                progress(done, total, "Courriers PDF")
    return buffer.getvalue()
