"""Helpers shared by the test_admin_staff* modules."""

import zoneinfo
from html.parser import HTMLParser

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from candidatures.jury import services as jury_services

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


DASHBOARD_PAGES = [
    "jury/",
    "classement/",
    "classement.xlsx",
    "classement.csv",
    "notes.xlsx",
    "notes.csv",
    "proces-verbal.pdf",
]


def url(appel, page):
    return f"/admin/candidatures/appel/{appel.pk}/{page}"


class _Tables(HTMLParser):
    """Text of every cell of the tables of a page, by table id (folded white space)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._current = None
        self._cell = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._current = self.tables.setdefault(attrs.get("id") or "", [])
        elif tag == "tr" and self._current is not None and self._depth == 1:
            self._current.append([])
        elif tag in ("td", "th") and self._current is not None and self._depth == 1:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._depth -= 1
            if self._depth == 0:
                self._current = None
        elif tag in ("td", "th") and self._cell is not None and self._current is not None:
            self._current[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _score_one(critere, dossier, jure, note):
    jury_services.save_evaluation(
        candidature=dossier,
        jure=jure,
        notes={critere: (note, "")},
        recommandation="retenir",
        submit=True,
    )


def _queries(client, path) -> int:
    client.get(path)  # warm caches (content types, session) out of the count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def critere_url(critere, page="change/"):
    return f"/admin/candidatures/critere/{critere.pk}/{page}"


def allow_deleting_criteres(user):
    user.user_permissions.add(Permission.objects.get(codename="delete_critere"))


def history_rows(response):
    return tables(response)["change-history"]
