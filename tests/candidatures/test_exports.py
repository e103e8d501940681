"""The one CSV cell formatter shared by every export (dossiers, ranking, scores)."""

import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from candidatures.exports import csv_cell, csv_lines


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
