"""Spreadsheet exports for Excel in French: CSV (« ; », UTF-8 BOM, decimal comma) and XLSX.

``to_csv_response`` (streamed) and ``to_xlsx_response`` take any (headers, rows) pair; rows hold
str, numbers, booleans, dates and aware datetimes (written in Paris time). Text that a
spreadsheet would run as a formula stays text in both formats.
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


def oui_non(value: bool) -> str:
    return "oui" if value else "non"


def paris_naive(value: datetime | None) -> datetime | None:
    """An aware datetime as naive wall-clock time in Europe/Paris (spreadsheets know no zone)."""
    if value is None:
        return None
    return timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)


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
        return oui_non(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = paris_naive(value)
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
