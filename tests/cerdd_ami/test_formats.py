"""One French style for dates and times shown to people (cerdd_ami.formats, filter date_fr)."""

import zoneinfo
from datetime import UTC, date, datetime, time

import pytest
from django.template import Context, Template
from django.utils import formats

from candidatures.appels.seed import ensure_appel_2021
from cerdd_ami.formats import (
    NBSP,
    de_nom,
    filesize_fr,
    format_date_fr,
    format_datetime_fr,
    format_time_fr,
    format_weekday_date_fr,
)
from tests.utils import page_text

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def test_format_datetime_fr_last_second_of_the_deadline_shows_no_seconds():
    assert format_datetime_fr(datetime(2021, 3, 12, 23, 59, 59, tzinfo=PARIS)) == (
        "12 mars 2021 à 23 h 59"
    )


def test_format_datetime_fr_reads_utc_in_paris_across_dst_and_midnight():
    # Winter (UTC+1): 23:30 UTC on 31 December is already New Year's Day in Paris.
    assert format_datetime_fr(datetime(2020, 12, 31, 23, 30, tzinfo=UTC)) == (
        "1er janvier 2021 à 0 h 30"
    )
    # Summer (UTC+2), the night of the spring-forward: 01:30 UTC is 3 h 30 in Paris.
    assert format_datetime_fr(datetime(2021, 3, 28, 1, 30, tzinfo=UTC)) == ("28 mars 2021 à 3 h 30")
    # The autumn fall-back: 00:30 and 01:30 UTC both read 2 h 30 in Paris.
    assert format_time_fr(datetime(2021, 10, 31, 0, 30, tzinfo=UTC)) == "2 h 30"
    assert format_time_fr(datetime(2021, 10, 31, 1, 30, tzinfo=UTC)) == "2 h 30"


def test_format_time_fr_of_a_time_and_of_midnight():
    assert format_time_fr(time(9, 0)) == "9 h 00"
    assert format_time_fr(time(0, 0)) == "0 h 00"
    assert format_time_fr(datetime(2021, 5, 18, 0, 0, tzinfo=PARIS)) == "0 h 00"


def test_format_date_fr_first_of_the_month_and_weekday():
    assert format_date_fr(date(2021, 3, 1)) == "1er mars 2021"
    assert format_date_fr(datetime(2021, 4, 15, 22, 30, tzinfo=UTC)) == "16 avril 2021"
    assert format_weekday_date_fr(date(2021, 5, 18)) == "mardi 18 mai 2021"


def test_format_datetime_fr_takes_a_naive_datetime_as_paris_time():
    assert format_datetime_fr(datetime(2021, 3, 12, 23, 59)) == "12 mars 2021 à 23 h 59"


@pytest.mark.parametrize(
    ("value", "variant", "expected"),
    [
        (datetime(2021, 3, 12, 22, 59, 59, tzinfo=UTC), "", "12 mars 2021 à 23 h 59"),
        (datetime(2021, 3, 12, 22, 59, 59, tzinfo=UTC), "jour", "12 mars 2021"),
        (datetime(2021, 3, 12, 22, 59, 59, tzinfo=UTC), "heure", "23 h 59"),
        (date(2021, 5, 18), "", "18 mai 2021"),
        (date(2021, 5, 18), "semaine", "mardi 18 mai 2021"),
        (time(9, 30), "", "9 h 30"),
        (None, "", ""),
    ],
)
def test_date_fr_filter_is_a_builtin_of_every_template(value, variant, expected):
    source = "{{ value|date_fr:variant }}" if variant else "{{ value|date_fr }}"
    rendered = Template(source).render(Context({"value": value, "variant": variant}))
    assert rendered == expected


@pytest.mark.django_db
def test_public_call_page_shows_dates_in_the_one_french_style(client):
    ensure_appel_2021()

    content = page_text(client.get("/"))

    assert "<li>Date limite de dépôt : 12 mars 2021 à 23 h 59</li>" in content
    assert "<li>Ouverture : 10 décembre 2020</li>" in content
    assert "23:59" not in content


def test_format_datetime_fr_reads_paris_time():
    last_second = datetime(2021, 3, 12, 23, 59, 59, tzinfo=PARIS)

    assert format_datetime_fr(last_second) == "12 mars 2021 à 23 h 59"
    assert format_datetime_fr(last_second, seconds=True) == ("12 mars 2021 à 23 h 59 min 59 s")
    # The same instant written in UTC reads the same in Paris.
    assert format_datetime_fr(datetime(2021, 3, 12, 22, 59, 59, tzinfo=UTC)) == (
        "12 mars 2021 à 23 h 59"
    )
    # Summer time: 01:30 UTC is 3 h 30 in Paris after the spring-forward.
    assert format_datetime_fr(datetime(2021, 3, 28, 1, 30, tzinfo=UTC)) == ("28 mars 2021 à 3 h 30")


def test_format_date_fr_writes_the_first_of_the_month_as_1er():
    assert format_date_fr(date(2021, 3, 1)) == "1er mars 2021"
    assert format_date_fr(date(2021, 8, 15)) == "15 août 2021"
    assert format_date_fr(datetime(2021, 2, 28, 23, 30, tzinfo=UTC)) == "1er mars 2021"


@pytest.mark.parametrize(
    ("nom", "expected"),
    [
        ("Arras", "d'Arras"),
        ("Éperlecques", "d'Éperlecques"),
        ("Loos-en-Gohelle", "de Loos-en-Gohelle"),
        ("Le Portel", "du Portel"),
        ("Les Moëres", "des Moëres"),
        ("La Bassée", "de La Bassée"),
    ],
)
def test_de_nom_elides_and_contracts(nom, expected):
    assert de_nom(nom) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, f"0{NBSP}octet"),
        (532, f"532{NBSP}octets"),
        (1024, f"1{NBSP}Ko"),
        (12_700, f"12,4{NBSP}Ko"),
        (1536 * 1024, f"1,5{NBSP}Mo"),
        (10 * 1024 * 1024, f"10{NBSP}Mo"),
    ],
)
def test_filesize_fr_uses_french_units(size, expected):
    assert filesize_fr(size) == expected


def test_django_own_date_formats_follow_the_house_style():
    # The admin's lists and read-only fields use Django's formats, not our filter.
    moment = datetime(2021, 3, 12, 22, 59, tzinfo=UTC)  # 23 h 59 in Paris
    local = moment.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))

    assert formats.date_format(local, "DATETIME_FORMAT") == "12 mars 2021 à 23 h 59"
    assert formats.date_format(local.date()) == "12 mars 2021"
    assert formats.time_format(time(9, 5)) == "9 h 05"
    assert formats.date_format(local, "DATETIME_FORMAT") == format_datetime_fr(moment)
