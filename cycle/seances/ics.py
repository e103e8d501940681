"""iCalendar (RFC 5545) files of the séances, built with the ``icalendar`` package: one VEVENT
per séance.

Times are given in UTC so that no VTIMEZONE block is needed; calendar applications show them
in their own time zone. The package escapes text values, ends lines with CRLF and folds them at
75 octets.
"""

import datetime
import zoneinfo
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PRODID = "-//Cerdd//Appels à manifestation d'intérêt//FR"


def utc(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(datetime.UTC)


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


def vevent(seance, *, url="", now=None) -> icalendar.Event:
    start, end = seance_bounds(seance)
    event = icalendar.Event()
    event.add("uid", uid(seance))
    event.add("dtstamp", utc(now or timezone.now()))
    event.add("dtstart", utc(start))
    event.add("dtend", utc(end))
    event.add("summary", summary(seance))
    if location(seance):
        event.add("location", location(seance))
    event.add("description", description(seance, url))
    if url:
        event.add("url", url)
    return event


def calendar(events: list[tuple], *, name: str = "", now=None) -> str:
    """A VCALENDAR of ``events``, each a (seance, url) pair."""
    now = now or timezone.now()
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", PRODID)
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    for seance, url in events:
        cal.add_component(vevent(seance, url=url, now=now))
    return cal.to_ical().decode()
