"""Helpers shared by the test_admin* modules (the dossiers' and the call's admin)."""

import html
import re
import zoneinfo
from datetime import datetime, timedelta

from django.contrib.messages import get_messages

from candidatures.models import Candidature, Collectivite
from tests.candidatures.factories import CandidatureFactory, numbered

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


SUBMITTED_URL = "/admin/candidatures/candidature/"


DRAFTS_URL = "/admin/candidatures/brouillon/"


def commune(insee):
    return Collectivite.objects.get(insee=insee)


def epci(siren):
    return Collectivite.objects.get(siren=siren, nature="epci")


def submitted(appel, collectivite, number, **fields):
    """A dossier set up as submitted; answers to the call's questions by code."""
    return CandidatureFactory(
        appel=appel,
        collectivite=collectivite,
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, number),
        deposee_at=datetime(2021, 3, 1, 10, 0, tzinfo=PARIS) + timedelta(hours=number),
        **fields,
    )


def draft(appel, collectivite, **fields):
    return CandidatureFactory(appel=appel, collectivite=collectivite, **fields)


def result_rows(content):
    """The rows of the admin changelist's result table, as text without tags."""
    table = re.search(r'<table id="result_list">(.*?)</table>', content, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>")[1], re.S)
    return [
        " | ".join(
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ).strip(" |")
        for row in rows
    ]


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def export(client, url, action, pks):
    return client.post(url, {"action": action, "index": "0", "_selected_action": pks})


def grant(client, dossiers, until, reason="Panne du site le jour du dépôt"):
    return client.post(
        SUBMITTED_URL,
        {
            "action": "accorder_prolongation",
            "_selected_action": [dossier.pk for dossier in dossiers],
            "apply": "1",
            "until": until.strftime("%Y-%m-%dT%H:%M"),
            "reason": reason,
        },
        follow=True,
    )
