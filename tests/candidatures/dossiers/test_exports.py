"""The one CSV cell formatter shared by every export (dossiers, ranking, scores)."""

import io
import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.template.defaultfilters import floatformat
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from candidatures.jury.charts import fr_number
from cerdd_ami.spreadsheets import csv_cell, csv_lines, to_xlsx_response


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "oui"),
        (False, "non"),
        (7, "7"),
        (-3, "-3"),
        (-0.53, "-0,53"),
        (Decimal("12.50"), "12,50"),
        (date(2021, 3, 12), "12/03/2021"),
        # Aware datetimes are written in Paris time (winter: UTC+1, summer: UTC+2).
        (datetime(2021, 3, 12, 22, 59, 59, tzinfo=UTC), "12/03/2021 23:59"),
        (datetime(2021, 6, 1, 8, 0, tzinfo=UTC), "01/06/2021 10:00"),
        (datetime(2021, 6, 1, 8, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), "01/06/2021 08:00"),
        ("Arras", "Arras"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("-1 pour tous", "'-1 pour tous"),
        ("+33 3 21 00 00 00", "'+33 3 21 00 00 00"),
        ("@SOMME(A1)", "'@SOMME(A1)"),
    ],
)
def test_csv_cell_writes_values_as_excel_in_french_reads_them(value, cell):
    assert csv_cell(value) == cell


def test_csv_lines_start_with_a_bom_and_use_semicolons_and_crlf():
    lines = list(csv_lines(["Numéro", "Note"], [["AMI-2021-001", -0.5], ["AMI-2021-002", None]]))

    assert lines == [
        "\ufeffNuméro;Note\r\n",
        "AMI-2021-001;-0,5\r\n",
        "AMI-2021-002;\r\n",
    ]


def read_xlsx(response) -> list[list[tuple]]:
    """Each cell as (value, type, shown with a leading « ' » when edited)."""
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    return [
        [(cell.value, cell.data_type, cell.quotePrefix) for cell in row]
        for row in workbook.active.iter_rows()
    ]


def test_xlsx_cells_starting_like_a_formula_stay_text_when_edited():
    """Defect 12: stored as text, « =… » became a formula as soon as a user edited the cell;
    the quote prefix keeps it text, as the « ' » does in the CSV export."""
    text = ['=HYPERLINK("http://x")', "-1 pour tous", "+33 3 21 00 00 00", "@SOMME(A1)"]
    numbers = [-3, -0.53, Decimal("-2.50")]

    response = to_xlsx_response(["Texte"], [[*text, "Arras", "\tretrait", *numbers]], "x.xlsx")

    assert read_xlsx(response)[1] == [
        *[(value, "s", True) for value in text],
        ("Arras", "s", False),
        ("\tretrait", "s", True),
        (-3, "n", False),
        (-0.53, "n", False),
        (-2.5, "n", False),
    ]


def test_chart_numbers_round_half_up_like_the_tables_beside_them():
    # 12.125 is exact in binary: Python's format rounds it to even (12,12), floatformat up.
    assert (fr_number(12.125, 2), floatformat(12.125, 2)) == ("12,13", "12,13")


# Scores on 0–20 and z-scores; floatformat itself gives up on values like 1e-296.
SCORES = st.floats(min_value=-20, max_value=20).filter(lambda value: abs(value) > 1e-9)


@given(SCORES | st.sampled_from([0.0, 12.125, 0.005, -0.005, 13.335]), st.sampled_from([1, 2]))
def test_chart_numbers_are_the_tables_numbers(value, digits):
    with translation.override("fr"):
        assert fr_number(value, digits) == floatformat(value, digits)
