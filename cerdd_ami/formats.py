"""Dates and times as people read them, in one French style everywhere (web pages, PDFs,
e-mails): « 12 mars 2021 », « 12 mars 2021 à 23 h 59 », « 9 h 00 », « mardi 18 mai 2021 ».
Always in Europe/Paris; no seconds, except the submission receipt's time stamp (proof of a
deposit decided to the second).

Hand-written rather than Django's localized ``date`` filter: a PDF or an e-mail built during
a request would follow the browser's language, and a letter must read the same whoever clicked.
Templates use the ``date_fr`` filter (cerdd_ami/templatetags/dates_fr.py, a builtin).
"""

import zoneinfo
from datetime import date, datetime, time

from django.utils import timezone

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space, before ; ! ? in French typography

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


def paris(value: datetime) -> datetime:
    """An aware datetime in Europe/Paris (a naive one is taken as Paris time already)."""
    if timezone.is_naive(value):
        return value.replace(tzinfo=PARIS)
    return timezone.localtime(value, PARIS)


def _day(value: date | datetime) -> date:
    return paris(value).date() if isinstance(value, datetime) else value


def format_date_fr(value: date | datetime) -> str:
    """« 1er mars 2021 », « 12 mars 2021 »; datetimes are read in Europe/Paris."""
    value = _day(value)
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def format_weekday_date_fr(value: date | datetime) -> str:
    """« mardi 18 mai 2021 »."""
    return f"{WEEKDAYS[_day(value).weekday()]} {format_date_fr(value)}"


def format_time_fr(value: datetime | time, *, seconds: bool = False) -> str:
    """« 9 h 00 », « 23 h 59 » (Europe/Paris for a datetime); « 23 h 59 min 59 s » with
    seconds, for the submission receipt only."""
    local = paris(value) if isinstance(value, datetime) else value
    text = f"{local.hour} h {local.minute:02d}"
    if seconds:
        text += f" min {local.second:02d} s"
    return text


def format_datetime_fr(value: datetime, *, seconds: bool = False) -> str:
    """« 12 mars 2021 à 23 h 59 » (Europe/Paris)."""
    return f"{format_date_fr(value)} à {format_time_fr(value, seconds=seconds)}"


def _month_year(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.year}"


def format_month_span(first: date | None, months: int) -> str:
    """« de mai 2021 à mars 2022 » (``months`` after ``first``'s month), « d'octobre 2021 à
    août 2022 »; "" without a first date."""
    if first is None:
        return ""
    index = first.month - 1 + months
    end = date(first.year + index // 12, index % 12 + 1, 1)
    start = _month_year(first)
    de = "d'" if start[:1] in "aeiouyâàéèêîïôûœ" else "de "
    return f"{de}{start} à {_month_year(end)}"


def format_integer_fr(value: int) -> str:
    """« 500 », « 3 000 », « 12 500 »: thousands set apart by a narrow no-break space (the
    character counters of the step pages, static/js/compteur.js, write them the same way)."""
    return f"{value:,}".replace(",", NNBSP)


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
