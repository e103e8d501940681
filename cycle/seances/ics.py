"""iCalendar (RFC 5545) files of the séances, written by hand: one VEVENT per séance.

Times are written in UTC (« Z » form) so that no VTIMEZONE block is needed; calendar
applications show them in their own time zone. Lines end with CRLF and are folded at 75
octets; text values escape backslashes, semicolons, commas and newlines.
"""

import datetime
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PRODID = "-//Cerdd//Vers des territoires participatifs//FR"


def escape_text(value: str) -> str:
    return (
        (value or "")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into 75-octet chunks without cutting a UTF-8 character."""
    chunks, current, size = [], "", 0
    limit = 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            chunks.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += char
        size += width
    chunks.append(current)
    return "\r\n ".join(chunks)


def utc_stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def seance_bounds(seance) -> tuple[datetime.datetime, datetime.datetime]:
    """Start and end of a séance as aware datetimes, read in Europe/Paris."""

    def at(value):
        if isinstance(value, str):  # an unsaved default such as "09:30"
            value = datetime.time.fromisoformat(value)
        return datetime.datetime.combine(seance.date, value, tzinfo=PARIS)

    return at(seance.heure_debut), at(seance.heure_fin)


def location(seance) -> str:
    return ", ".join(part for part in (seance.lieu, seance.adresse) if part)


def description(seance, url: str = "") -> str:
    lines = []
    if seance.themes:
        lines.append(f"Thème(s) : {seance.themes}")
    for label, text in (
        ("Matinée", seance.programme_matin),
        ("Déjeuner", seance.programme_dejeuner),
        ("Après-midi", seance.programme_apres_midi),
    ):
        if text:
            lines.append(f"{label} : {text}")
    if url:
        lines.append(f"Programme et note de contexte : {url}")
    return "\n".join(lines)


def summary(seance) -> str:
    return f"Séance {seance.numero} — {seance.cycle.titre}"


def uid(seance) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "cerdd-ami"
    return f"seance-{seance.pk}@{host}"


def vevent(seance, *, url="", now=None) -> list[str]:
    start, end = seance_bounds(seance)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid(seance)}",
        f"DTSTAMP:{utc_stamp(now or timezone.now())}",
        f"DTSTART:{utc_stamp(start)}",
        f"DTEND:{utc_stamp(end)}",
        f"SUMMARY:{escape_text(summary(seance))}",
    ]
    if location(seance):
        lines.append(f"LOCATION:{escape_text(location(seance))}")
    lines.append(f"DESCRIPTION:{escape_text(description(seance, url))}")
    if url:
        lines.append(f"URL:{url}")
    lines.append("END:VEVENT")
    return lines


def calendar(events: list[tuple], *, name: str = "", now=None) -> str:
    """A VCALENDAR of ``events``, each a (seance, url) pair; CRLF line endings, folded."""
    now = now or timezone.now()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    lines.append("METHOD:PUBLISH")
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for seance, url in events:
        lines.extend(vevent(seance, url=url, now=now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
