"""Spreadsheet exports of dossiers (CSV for Excel FR, XLSX), used by the admin actions.

``candidatures_rows`` turns a queryset into French headers and an iterator of rows: one
column per field of the call's form, dates in Europe/Paris. It runs a constant number of
queries whatever the number of dossiers, and reads them in chunks, so the responses can be
streamed. ``to_csv_response`` and ``to_xlsx_response`` take any (headers, rows) pair, so other
exports (ranking, attendance) can reuse them.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

CSV_DELIMITER = ";"
CSV_DATETIME_FORMAT = "%d/%m/%Y %H:%M"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"

# Spreadsheets run cells starting with these as formulas: applicants' text must stay text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _oui_non(value: bool) -> str:
    return "oui" if value else "non"


def _paris(value: datetime | None) -> datetime | None:
    """An aware datetime as naive wall-clock time in Europe/Paris (spreadsheets know no zone)."""
    if value is None:
        return None
    return timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)


def _nature(candidature) -> str:
    collectivite = candidature.collectivite
    if collectivite.nature == collectivite.Nature.COMMUNE:
        return collectivite.get_nature_display()
    return collectivite.get_type_epci_display()


# (French header, how to read the value from a candidature), in the order of the form.
COLUMNS = [
    ("Numéro", lambda c: c.numero),
    ("Statut", lambda c: c.get_statut_display()),
    ("Appel", lambda c: c.appel.titre),
    ("Collectivité", lambda c: c.collectivite.nom),
    ("Nature", _nature),
    ("Code INSEE", lambda c: c.collectivite.insee),
    ("SIREN", lambda c: c.collectivite.siren),
    ("Département", lambda c: c.collectivite.departement),
    ("EPCI de rattachement", lambda c: c.collectivite.epci.nom if c.collectivite.epci else ""),
    ("Créée le", lambda c: _paris(c.created_at)),
    ("Modifiée le", lambda c: _paris(c.updated_at)),
    ("Déposée le", lambda c: _paris(c.deposee_at)),
    ("Prolongation accordée jusqu'au", lambda c: _paris(c.prolongation_jusqu_au)),
    ("Adresse postale", lambda c: c.adresse),
    ("Code postal", lambda c: c.code_postal),
    ("Ville", lambda c: c.ville),
    ("Téléphone de la collectivité", lambda c: c.telephone),
    ("E-mail de la collectivité", lambda c: c.email_contact),
    ("Référent·e politique : nom et prénom", lambda c: c.ref_pol_nom),
    ("Référent·e politique : fonction", lambda c: c.ref_pol_fonction),
    ("Référent·e politique : e-mail", lambda c: c.ref_pol_email),
    ("Référent·e politique : téléphone", lambda c: c.ref_pol_telephone),
    ("Référent·e technique : nom et prénom", lambda c: c.ref_tech_nom),
    ("Référent·e technique : fonction", lambda c: c.ref_tech_fonction),
    ("Référent·e technique : e-mail", lambda c: c.ref_tech_email),
    ("Référent·e technique : téléphone", lambda c: c.ref_tech_telephone),
    ("Point contact technique : nom et prénom", lambda c: c.contact_nom),
    ("Point contact technique : fonction", lambda c: c.contact_fonction),
    ("Point contact technique : e-mail", lambda c: c.contact_email),
    ("Point contact technique : téléphone", lambda c: c.contact_telephone),
    ("Motivations", lambda c: c.motivations),
    ("Actions déjà réalisées ou prévues", lambda c: c.actions),
    ("Pistes de travail envisagées", lambda c: c.pistes),
    ("Principaux besoins identifiés", lambda c: c.besoins),
    (
        "Engagement : binôme élu·e / technicien·ne à chaque journée",
        lambda c: _oui_non(c.engagement_binome),
    ),
    (
        "Engagement : expérimenter sur le territoire",
        lambda c: _oui_non(c.engagement_experimentation),
    ),
    ("Consentement au traitement des données", lambda c: _oui_non(c.consentement_donnees)),
]

CHUNK_SIZE = 500


def candidatures_rows(queryset) -> tuple[list[str], Iterator[list]]:
    """French headers and a lazy iterator of rows (str, naive Paris datetimes or None)."""
    headers = [header for header, _ in COLUMNS]
    dossiers = (
        queryset.select_related("appel", "collectivite", "collectivite__epci")
        .prefetch_related(None)
        .order_by("appel__opens_at", "numero", "collectivite__nom", "pk")
    )

    def rows():
        for candidature in dossiers.iterator(chunk_size=CHUNK_SIZE):
            yield [read(candidature) for _, read in COLUMNS]

    return headers, rows()


def runs_as_formula(value) -> bool:
    """Text a spreadsheet would take for a formula once its cell is typed in or edited: both
    exports keep it text, the CSV with a leading « ' », the XLSX with the cell's quote prefix.
    Numbers are never text here, so « -0,53 » stays a number."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_cell(value) -> str:
    """One value as Excel in French reads it: numbers with a decimal comma (never taken for a
    formula, « -0,53 » is a z-score), oui/non, dates in Paris time, and text starting like a
    formula prefixed with « ' » so that it stays text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _oui_non(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = _paris(value)
        return value.strftime(CSV_DATETIME_FORMAT)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = str(value)
    if runs_as_formula(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def csv_lines(headers: list[str], rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 BOM then ``;``-separated lines, as Excel in French expects."""
    writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER, lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(headers)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def export_filename(*parts: str, extension: str) -> str:
    """« classement-2021-2026-12-06-08h00.xlsx »: what is exported, then when (Paris time).

    A part the time stamp already says is dropped: the call « 2026 » exported in 2026 gives
    « classement-2026-12-06-08h00.xlsx », not « classement-2026-2026-12-06… »."""
    stamp = timezone.localtime().strftime("%Y-%m-%d-%Hh%M")
    kept = [part for part in parts if part]
    if kept and stamp.startswith(f"{kept[-1]}-"):
        kept.pop()
    return "-".join([*kept, stamp]) + f".{extension}"


def _attachment(response, filename: str):
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def to_csv_response(headers: list[str], rows: Iterable[list], filename: str):
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(headers, rows)),
        content_type="text/csv; charset=utf-8",
    )
    return _attachment(response, filename)


def to_xlsx_response(
    headers: list[str], rows: Iterable[list], filename: str, sheet_title: str = "Export"
):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):
                # Control characters pasted from word processors are not allowed in XLSX.
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # openpyxl would store "=…" as a formula: keep applicants' text as text.
                cell.data_type = "s"
                cell.quotePrefix = runs_as_formula(value)
            elif isinstance(value, datetime):
                cell.number_format = XLSX_DATETIME_FORMAT
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_MEDIA_TYPE)
    return _attachment(response, filename)
