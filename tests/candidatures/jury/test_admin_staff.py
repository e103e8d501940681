"""The staff jury dashboard in the admin (candidatures.jury.admin_staff), through the client.

The data is the hand-computed example of test_ranking (see its docstring): three dossiers
scored by Alpha, Bravo and Charlie, Delta in conflict with 001 and a draft on 002.
"""

import csv
import io
import re
import zoneinfo
from datetime import datetime
from html import unescape
from html.parser import HTMLParser

import openpyxl
import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.decisions import services as decisions_services
from candidatures.jury import services as jury_services
from candidatures.models import (
    Affectation,
    Appel,
    Collectivite,
    ConflitInteret,
    Evaluation,
    MembreJury,
)
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import CritereFactory
from tests.candidatures.jury.test_ranking import (
    bulk_dossiers,
    deposer,
    hand_example,
    make_appel,
    make_grid,
    member,
    score,
)
from tests.factories import charge_de_mission, juror
from tests.utils import page_text, pdf_text

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = pytest.mark.django_db

DASHBOARD_PAGES = [
    "jury/",
    "classement/",
    "classement.xlsx",
    "classement.csv",
    "notes.xlsx",
    "notes.csv",
    "proces-verbal.pdf",
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test", first_name="Alexis", last_name="Montaigne")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def example():
    return hand_example()


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


# ---------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize("page", DASHBOARD_PAGES)
def test_anonymous_is_sent_to_the_admin_login(client, example, page):
    appel = example[0]

    response = client.get(url(appel, page))

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login/?next={url(appel, page)}"


@pytest.mark.parametrize("page", DASHBOARD_PAGES)
def test_juror_gets_403_on_the_dashboard(client, example, page):
    sync_role_permissions()
    appel, _, jurors = example
    client.force_login(jurors["alpha"])

    assert client.get(url(appel, page)).status_code == 403


def test_juror_cannot_run_the_jury_actions(client, example):
    sync_role_permissions()
    appel, _, jurors = example
    client.force_login(jurors["alpha"])

    response = client.post(url(appel, "jury/"), {"action": "deliberation"})

    appel.refresh_from_db()
    assert response.status_code == 403
    assert appel.deliberation_ouverte_at is None


@pytest.mark.parametrize(
    "path",
    [
        "/admin/candidatures/evaluation/",
        "/admin/candidatures/conflitinteret/",
        "/admin/candidatures/affectation/",
        "/admin/candidatures/membrejury/",
    ],
)
def test_juror_has_no_access_to_the_staff_jury_lists(client, example, path):
    sync_role_permissions()
    client.force_login(example[2]["bravo"])

    assert client.get(path).status_code == 403


def test_staff_without_change_permission_sees_the_dashboard_but_no_action(client, example):
    sync_role_permissions()
    appel = example[0]
    reader = charge_de_mission(email="lecture@cerdd.test")
    reader.groups.clear()
    reader.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_appel", "view_candidature", "view_evaluation"]
        )
    )
    client.force_login(reader)

    page = client.get(url(appel, "jury/"))
    refused = client.post(url(appel, "jury/"), {"action": "clore"})

    assert page.status_code == 200
    assert 'name="action"' not in page.content.decode()
    assert refused.status_code == 403


def test_the_call_page_links_to_the_dashboard(staff_client, example):
    appel = example[0]

    response = staff_client.get(f"/admin/candidatures/appel/{appel.pk}/change/")

    content = response.content.decode()
    assert f'<a href="/admin/candidatures/appel/{appel.pk}/jury/">Suivi du jury</a>' in content
    assert f'<a href="/admin/candidatures/appel/{appel.pk}/classement/">Classement</a>' in content
    assert 'name="mode_jury"' in content
    assert 'name="seuil_desaccord"' in content
    assert (
        "Membres du jury (la collectivité d&#x27;appartenance" in content
        or "Membres du jury (la collectivité d'appartenance" in content
    )


# ---------------------------------------------------------------------------------------------
# Ranking page


def test_ranking_page_shows_the_ranking_table(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement/"))

    assert response.status_code == 200
    found = tables(response)
    # What decides, readable without scrolling; the other figures in a <details> below.
    assert found["tableau-classement"] == [
        [
            "Rang",
            "Rang (z)",
            "Dossier",
            "Collectivité",
            "Éval.",
            "Moyenne pondérée /20",
            "Désaccord",
        ],
        [
            "1",
            "1",
            "AMI-2021-002",
            "Amiens",
            "3",
            "13,00",
            "⚠ Désaccord : recommandations opposées (« retenir » et « ne pas retenir »)",
        ],
        [
            "1",
            "2",
            "AMI-2021-001",
            "Lille",
            "3",
            "13,00",
            "⚠ Désaccord : écart-type 7,00 supérieur au seuil de 6,5",
        ],
        ["3", "3", "AMI-2021-003", "Beauvais", "3", "6,00", ""],
    ]
    assert found["tableau-classement-detail"] == [
        [
            "Rang",
            "Dossier",
            "Collectivité",
            "Médiane",
            "Écart-type",
            "Min – max",
            "Score z moyen",
            "C1 /4",
            "C2 /5",
            "Retenir",
            "Liste d'attente",
            "Ne pas retenir",
        ],
        [
            "1",
            "AMI-2021-002",
            "Amiens",
            "13,00",
            "1,00",
            "12,00 – 14,00",
            "0,67",
            "3,00",
            "3,00",
            "1",
            "1",
            "1",
        ],
        [
            "1",
            "AMI-2021-001",
            "Lille",
            "13,00",
            "7,00",
            "6,00 – 20,00",
            "0,33",
            "3,00",
            "3,00",
            "2",
            "1",
            "0",
        ],
        [
            "3",
            "AMI-2021-003",
            "Beauvais",
            "6,00",
            "6,00",
            "0,00 – 12,00",
            "-1,00",
            "2,00",
            "1,00",
            "0",
            "0",
            "3",
        ],
    ]
    assert '<details class="jury-details" id="detail-classement">' in page_text(response)
    summary = " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())
    assert "Évaluations prises en compte 9 Moyenne du jury 10,67 / 20" in summary
    assert "Seuil de désaccord écart-type > 6,5 Dossiers en désaccord 2" in summary


def test_ranking_page_can_sort_by_z_score(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement/") + "?tri=z")

    rows = tables(response)["tableau-classement"]
    assert [(row[1], row[2]) for row in rows[1:]] == [
        ("1", "AMI-2021-002"),
        ("2", "AMI-2021-001"),
        ("3", "AMI-2021-003"),
    ]


def test_ranking_page_shows_calibration_and_distributions(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement/"))

    found = tables(response)
    assert found["tableau-calibration"][1:] == [
        ["Anne Alpha", "3", "13,00", "7,00", "6,00 – 20,00", "+2,33"],
        ["Bruno Bravo", "3", "13,00", "1,00", "12,00 – 14,00", "+2,33"],
        ["Chloé Charlie", "3", "6,00", "6,00", "0,00 – 12,00", "-4,67"],
        ["Denis Delta", "0", "—", "—", "—", "—"],
    ]
    assert found["tableau-critere-1"] == [
        ["Note", "0", "1", "2", "3", "4"],
        ["Nombre", "1", "0", "3", "2", "3"],
    ]
    assert found["tableau-critere-2"] == [
        ["Note", "0", "1", "2", "3", "4", "5"],
        ["Nombre", "1", "2", "2", "2", "1", "1"],
    ]


def test_ranking_page_charts_are_accessible_server_rendered_svg(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement/"))

    content = response.content.decode()
    svgs = re.findall(r'<svg [^>]*class="jury-chart".*?</svg>', content, flags=re.S)
    assert len(svgs) == 4  # ranking, calibration, one per critère
    for svg in svgs:
        assert 'role="img"' in svg
        assert "aria-label=" in svg
        assert "<title id=" in svg
        assert "<desc id=" in svg
        assert "style=" not in svg  # the CSP forbids inline styles
    assert (
        '<title id="graphique-classement-title">Classement des dossiers (moyenne pondérée)'
        "</title>" in content
    )
    assert "En tête : AMI-2021-002, Amiens, 13,00 sur 20." in content
    assert "⚠ signale un désaccord (2 dossiers)" in content
    assert "Plus sévère : Chloé Charlie (6,00) ; plus indulgent·e : Anne Alpha (13,00)." in content
    assert (
        "9 notes prises en compte, moyenne 2,67 sur 4. Nombre de notes par valeur : "
        "0 : 1, 1 : 0, 2 : 3, 3 : 2, 4 : 3." in content
    )
    assert "<script" not in content.split('id="content-main"')[1].split("</svg>")[0]
    assert "cdn" not in content.lower()


def test_chart_text_is_escaped(staff_client):
    appel = make_appel()
    make_grid(appel)
    dossier = deposer(appel, "59350", 1)
    sneaky = member(appel, "<script>alert(1)</script>", "Zulu")
    score(dossier, sneaky, 3, 3, "retenir")

    content = staff_client.get(url(appel, "classement/")).content.decode()

    assert "<script>alert(1)" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Zulu" in content


def _score_one(critere, dossier, jure, note):
    jury_services.save_evaluation(
        candidature=dossier,
        jure=jure,
        notes={critere: (note, "")},
        recommandation="retenir",
        submit=True,
    )


def test_chart_labels_are_never_cut(staff_client):
    appel = make_appel()
    critere = CritereFactory(
        appel=appel,
        ordre=1,
        libelle="Place de la démocratie participative et apport au cycle de qualification",
        note_max=4,
    )
    dossier = deposer(appel, "200093201", 1)  # Métropole Européenne de Lille
    jure = member(appel, "Marie-Bernadette", "Vandenbussche-Delattre de la Motte")
    _score_one(critere, dossier, jure, 3)

    content = staff_client.get(url(appel, "classement/")).content.decode()

    texts = [unescape(text) for text in re.findall(r"<text [^>]*>([^<]*)</text>", content)]
    assert [text for text in texts if "…" in text] == []
    assert "1. AMI-2021-001 — Métropole Européenne de Lille" in texts
    assert "Marie-Bernadette Vandenbussche-Delattre de la Motte" in texts
    assert "1. Place de la démocratie participative et apport" in texts
    assert "au cycle de qualification" in texts


def test_calibration_chart_rounds_like_its_table(staff_client):
    appel = make_appel()
    critere = CritereFactory(appel=appel, ordre=1, libelle="Dynamique", note_max=16)
    jure = member(appel, "Anne", "Alpha")
    # 9 and 8 on 16 are 11,25 and 10,00 on 20: mean 10,625, which the table rounds to 10,63.
    _score_one(critere, deposer(appel, "59350", 1), jure, 9)
    _score_one(critere, deposer(appel, "80021", 2), jure, 8)

    response = staff_client.get(url(appel, "classement/"))

    table = tables(response)["tableau-calibration"][1]
    chart = re.search(r"([\d,]+) ± ([\d,]+)</text>", response.content.decode()).groups()
    assert table[2] == "10,63"
    assert (table[2], table[3]) == chart


# ---------------------------------------------------------------------------------------------
# Progress page and actions


def test_progress_page_shows_the_matrix_with_conflicts(staff_client, example):
    appel, _, _ = example
    deposer(appel, "62041", 4)  # Arras
    member(appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579"))

    response = staff_client.get(url(appel, "jury/"))

    assert response.status_code == 200
    found = tables(response)
    assert found["matrice-avancement"] == [
        [
            "Dossier",
            "Collectivité",
            "Soumises",
            "Anne Alpha",
            "Bruno Bravo",
            "Chloé Charlie",
            "Denis Delta",
            "Fanny Foxtrot",
        ],
        [
            "AMI-2021-001",
            "Lille",
            "3 / 4",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "⊘ Conflit d'intérêts",
            "○ À faire",
        ],
        [
            "AMI-2021-002",
            "Amiens",
            "3 / 5",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "◐ Brouillon",
            "○ À faire",
        ],
        [
            "AMI-2021-003",
            "Beauvais",
            "3 / 5",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "○ À faire",
            "○ À faire",
        ],
        [
            "AMI-2021-004",
            "Arras",
            "0 / 4",
            "○ À faire",
            "○ À faire",
            "○ À faire",
            "○ À faire",
            "⊘ Conflit d'intérêts",
        ],
    ]
    assert found["avancement-jures"][1:] == [
        ["Anne Alpha", "Élue régionale", "4", "3", "0", "1", "1", "0"],
        ["Bruno Bravo", "—", "4", "3", "0", "1", "1", "0"],
        ["Chloé Charlie", "—", "4", "3", "0", "1", "1", "0"],
        ["Denis Delta", "—", "3", "0", "1", "2", "3", "1"],
        ["Fanny Foxtrot", "—", "3", "0", "0", "3", "3", "1"],
    ]
    assert "Juré·es à relancer : Anne Alpha (1), Bruno Bravo (1), Chloé Charlie (1), " in (
        page_text(response)
    )


def test_reminders_go_exactly_to_the_jurors_with_work_left(
    staff_client, example, django_capture_on_commit_callbacks
):
    appel, _, _jurors = example

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(appel, "jury/"), {"action": "rappels"}, follow=True)

    # Alpha, Bravo and Charlie have submitted everything; Delta has 002 (draft) and 003 left.
    assert [message.to for message in mail.outbox] == [["denis.delta@jury.test"]]
    assert mail.outbox[0].subject == (
        "Jury « Vers des territoires participatifs en Hauts-de-France » : 2 dossiers à évaluer"
    )
    assert messages_of(response) == [
        "Rappel envoyé à 1 juré·e qui a encore des dossiers à évaluer."
    ]
    assert response.redirect_chain == [(url(appel, "jury/"), 302)]


def test_reminders_with_nobody_left_send_nothing(
    staff_client, example, django_capture_on_commit_callbacks
):
    appel, _dossiers, jurors = example
    MembreJury.objects.filter(user=jurors["delta"]).delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(appel, "jury/"), {"action": "rappels"}, follow=True)

    assert mail.outbox == []
    assert messages_of(response) == [
        "Aucun·e juré·e n'a de dossier en attente : aucun rappel envoyé."
    ]


def test_auto_assignment_is_balanced_and_avoids_conflicts(staff_client):
    appel = make_appel(mode_jury=Appel.ModeJury.AFFECTATION, jures_par_dossier=2)
    make_grid(appel)
    codes = ["62041", "200033579", "59350", "80021", "60057", "02408", "59183"]
    dossiers = [deposer(appel, code, number) for number, code in enumerate(codes, start=1)]
    arras_tied = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )
    jurors = [arras_tied] + [member(appel, name, "Jury") for name in ("Anne", "Bruno", "Chloé")]
    ConflitInteret.objects.create(
        candidature=dossiers[2], jure=jurors[1], origine="declare", motif="Ancienne élue."
    )

    response = staff_client.post(url(appel, "jury/"), {"action": "affecter"}, follow=True)

    pairs = set(Affectation.objects.values_list("candidature", "jure"))
    per_dossier = {d.pk: sum(1 for c, _ in pairs if c == d.pk) for d in dossiers}
    loads = [sum(1 for _, j in pairs if j == jure.pk) for jure in jurors]
    conflicts = set(ConflitInteret.objects.values_list("candidature", "jure"))
    assert set(per_dossier.values()) == {2}
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == 14
    assert not pairs & conflicts
    assert (dossiers[0].pk, arras_tied.pk) in conflicts  # detected, recorded by the service
    assert (dossiers[1].pk, arras_tied.pk) in conflicts
    assert messages_of(response) == [
        "14 affectations créées (2 juré·es par dossier, charge équilibrée, jamais un·e juré·e "
        "en conflit d'intérêts)."
    ]


def test_auto_assignment_is_refused_when_every_juror_scores_everything(staff_client, example):
    appel = example[0]

    response = staff_client.post(url(appel, "jury/"), {"action": "affecter"}, follow=True)

    assert Affectation.objects.count() == 0
    assert messages_of(response) == [
        "Cet appel fait évaluer chaque dossier par chaque juré·e : choisissez « Chaque dossier "
        "est affecté à quelques juré·es » dans la fiche de l'appel avant d'affecter les dossiers."
    ]


def test_close_reopen_scoring_and_open_deliberation(staff_client, example):
    appel = example[0]

    closed = staff_client.post(url(appel, "jury/"), {"action": "clore"}, follow=True)
    appel.refresh_from_db()
    closed_at = appel.notation_close_at
    reopened = staff_client.post(url(appel, "jury/"), {"action": "rouvrir"}, follow=True)
    appel.refresh_from_db()
    reopened_at = appel.notation_close_at
    too_early = staff_client.post(url(appel, "jury/"), {"action": "deliberation"}, follow=True)
    appel.refresh_from_db()
    deliberation_while_scoring = appel.deliberation_ouverte_at
    staff_client.post(url(appel, "jury/"), {"action": "clore"}, follow=True)
    deliberation = staff_client.post(url(appel, "jury/"), {"action": "deliberation"}, follow=True)
    too_late = staff_client.post(url(appel, "jury/"), {"action": "rouvrir"}, follow=True)
    appel.refresh_from_db()

    assert closed_at is not None
    assert reopened_at is None
    assert deliberation_while_scoring is None
    assert messages_of(too_early) == [
        "Clôturez d'abord la notation : tant qu'elle est ouverte, un·e juré·e pourrait lire "
        "les évaluations de ses collègues avant de rendre la sienne."
    ]
    assert messages_of(too_late) == [
        "La délibération est ouverte : les juré·es ont lu les évaluations de leurs "
        "collègues, la notation ne peut plus être rouverte."
    ]
    assert appel.notation_close_at is not None
    assert appel.deliberation_ouverte_at is not None
    assert messages_of(closed) == [
        "La notation est close : les évaluations ne peuvent plus être modifiées."
    ]
    assert messages_of(reopened) == [
        "La notation est rouverte : les juré·es peuvent de nouveau modifier leurs évaluations."
    ]
    assert messages_of(deliberation) == [
        "La délibération est ouverte : sur chaque dossier qu'ils et elles peuvent voir, les "
        "juré·es voient désormais les évaluations de leurs collègues (le classement reste "
        "réservé à l'équipe du Cerdd)."
    ]
    jury_page = page_text(staff_client.get(url(appel, "jury/")))
    assert "les résultats" not in jury_page
    assert "Délibération ouverte le " in page_text(deliberation).replace("</dt><dd>", " ")


def test_refresh_conflicts_action_fills_the_register(staff_client, example):
    appel = example[0]
    deposer(appel, "62041", 4)
    foxtrot = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )

    response = staff_client.post(url(appel, "jury/"), {"action": "conflits"}, follow=True)

    assert ConflitInteret.objects.filter(jure=foxtrot, origine="detecte").count() == 1
    assert messages_of(response) == [
        "Registre des conflits d'intérêts à jour : 1 conflit détecté ajouté."
    ]


def test_unknown_action_changes_nothing(staff_client, example):
    appel = example[0]

    response = staff_client.post(url(appel, "jury/"), {"action": "tout-effacer"}, follow=True)

    assert messages_of(response) == ["Action inconnue."]


# ---------------------------------------------------------------------------------------------
# Same number of queries for 3 and 300 dossiers


def _queries(client, path) -> int:
    client.get(path)  # warm caches (content types, session) out of the count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", ["classement/", "jury/"])
def test_dashboard_pages_run_the_same_queries_for_3_and_300_dossiers(
    staff_client, example, page, django_assert_num_queries
):
    appel, _, jurors = example
    if page == "jury/":
        Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    small = _queries(staff_client, url(appel, page))
    assert 5 < small < 20  # the aggregates' 5, plus session, user, permissions, the call
    bulk_dossiers(appel, 297, [jurors["alpha"], jurors["bravo"], jurors["charlie"]])

    with django_assert_num_queries(small):
        response = staff_client.get(url(appel, page))

    assert response.status_code == 200
    assert "AMI-2021-396" in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Exports


def test_ranking_csv_export(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement.csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="classement-2021-\d{4}-\d\d-\d\d-\d\dh\d\d\.csv"',
        response["Content-Disposition"],
    )
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    lines = content[1:].split("\r\n")
    assert lines[0] == (
        "Rang;Rang (scores z);Numéro;Collectivité;Nature;Département;"
        "Évaluations prises en compte;Moyenne pondérée (/20);Médiane (/20);Écart-type (/20);"
        "Minimum (/20);Maximum (/20);Score z moyen;"
        "Moyenne « Dynamique de transition » (/4, poids 1);"
        "Moyenne « Motivation des élu·es » (/5, poids 2);"
        "Recommandation « Retenir »;Recommandation « Liste d'attente »;"
        "Recommandation « Ne pas retenir »;Désaccord;Motif du désaccord"
    )
    assert lines[3] == (
        "3;3;AMI-2021-003;Beauvais;Commune;60;3;6,0;6,0;6,0;0,0;12,0;-1,0;2,0;1,0;0;0;3;non;"
    )
    assert len(list(csv.reader(io.StringIO(content[1:]), delimiter=";"))) == 4


def test_ranking_xlsx_export(staff_client, example):
    appel = example[0]

    response = staff_client.get(url(appel, "classement.xlsx"))

    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["Classement"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "Rang",
        "Rang (scores z)",
        "Numéro",
        "Collectivité",
        "Nature",
        "Département",
        "Évaluations prises en compte",
        "Moyenne pondérée (/20)",
    )
    assert rows[2] == (
        1,
        2,
        "AMI-2021-001",
        "Lille",
        "Commune",
        "59",
        3,
        13,
        13,
        7,
        6,
        20,
        0.333,
        3,
        3,
        2,
        1,
        0,
        "oui",
        "écart-type 7,00 supérieur au seuil de 6,5",
    )


def test_scores_exports(staff_client, example):
    appel = example[0]

    as_csv = staff_client.get(url(appel, "notes.csv")).content.decode("utf-8")
    as_xlsx = openpyxl.load_workbook(
        io.BytesIO(staff_client.get(url(appel, "notes.xlsx")).content)
    )["Notes"]

    lines = as_csv[1:].split("\r\n")
    assert lines[0].startswith("Numéro;Collectivité;Juré·e;E-mail du ou de la juré·e;Statut;")
    delta_line = next(line for line in lines if "Denis Delta" in line and "001" in line)
    assert ";Soumise;" in delta_line
    assert ";non : conflit d'intérêts;0;A vaut 0;0;;0,0;" in (delta_line)
    rows = list(as_xlsx.iter_rows(values_only=True))
    assert len(rows) == 12
    assert rows[1][:5] == ("AMI-2021-001", "Lille", "Anne Alpha", "anne.alpha@jury.test", "Soumise")
    assert rows[1][7:13] == ("oui", 4, "A vaut 4", 5, None, 20)


def test_csv_guards_formulas_but_not_negative_numbers(staff_client):
    appel = make_appel()
    make_grid(appel)
    dossier = deposer(appel, "59350", 1)
    jure = member(appel, "Anne", "Alpha")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=jure,
        notes=dict.fromkeys(appel.criteres.all(), (1, '=HYPERLINK("http://x")')),
        recommandation="attente",
        commentaire_prive="+33 6 00 00 00 00",
        submit=True,
    )

    content = staff_client.get(url(appel, "notes.csv")).content.decode("utf-8")

    assert ';"\'=HYPERLINK(""http://x"")";' in content
    assert ";'+33 6 00 00 00 00;" in content


# ---------------------------------------------------------------------------------------------
# Procès-verbal


def test_proces_verbal_pdf(staff_client, example):
    appel, _, _ = example
    Appel.objects.filter(pk=appel.pk).update(signataire_nom="Emmanuel Bertin")

    response = staff_client.get(url(appel, "proces-verbal.pdf"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="proces-verbal-2021.pdf"'
    text = pdf_text(response.content).replace("\u00a0", " ").replace("\u202f", " ")
    assert "Procès-verbal du jury" in text
    assert "Vers des territoires participatifs en Hauts-de-France" in text
    assert "1 Dynamique de transition 1 4" in text
    assert "2 Motivation des élu·es 2 5" in text
    assert "AMI-2021-001 Lille" in text
    assert "Anne Alpha Élue régionale" in text
    assert "Mon conjoint travaille à Lille." in text
    assert "Déclaré par le ou la juré·e" in text
    assert f"Fait le {format_date_fr(timezone.now())}." in text
    assert "Emmanuel Bertin" in text
    assert "« Retenir » : 3 ; « Liste d'attente » : 2 ; « Ne pas retenir » : 4." in text


def test_proces_verbal_lists_ties_not_yet_in_the_register(staff_client, example):
    appel = example[0]
    deposer(appel, "62041", 4)
    member(appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579"))

    response = staff_client.get(url(appel, "proces-verbal.pdf"))

    text = " ".join(pdf_text(response.content).replace("\u00a0", " ").split())
    assert "Détecté (pas encore inscrit au registre)" in text
    assert ConflitInteret.objects.filter(origine="detecte").count() == 0  # GET wrote nothing


# ---------------------------------------------------------------------------------------------
# Register of conflicts, évaluations and their history, assignments


def test_conflict_register_lists_dossier_juror_origin_reason_date(staff_client, example):
    appel = example[0]

    response = staff_client.get(
        f"/admin/candidatures/conflitinteret/?candidature__appel__id__exact={appel.pk}"
    )

    text = page_text(response)
    assert response.status_code == 200
    assert "AMI-2021-001" in text
    assert "Denis Delta (denis.delta@jury.test)" in text
    assert "Déclaré par le ou la juré·e" in text
    assert "Mon conjoint travaille à Lille." in text
    assert (
        f'href="?candidature__appel__id__exact={appel.pk}&amp;origine__exact=declare"'
        in response.content.decode()
    )


def test_declared_conflict_is_read_only_and_has_a_history(staff_client, example):
    conflict = ConflitInteret.objects.get()

    page = staff_client.get(f"/admin/candidatures/conflitinteret/{conflict.pk}/change/")
    history = staff_client.get(f"/admin/candidatures/conflitinteret/{conflict.pk}/history/")
    posted = staff_client.post(
        f"/admin/candidatures/conflitinteret/{conflict.pk}/change/", {"motif": "Autre."}
    )

    conflict.refresh_from_db()
    assert page.status_code == 200
    assert 'name="motif"' not in page.content.decode()
    assert history.status_code == 200
    rows = tables(history)["change-history"]
    assert rows[0] == ["Objet", "Date", "Commentaire", "Modifié par", "Motif", "Modifications"]
    assert [row[2:] for row in rows[1:]] == [["Création", "—", "—", "—"]]
    assert posted.status_code == 403
    assert conflict.motif == "Mon conjoint travaille à Lille."


def test_staff_can_record_a_recusal_by_hand(staff_client, example, staff):
    appel, dossiers, jurors = example

    response = staff_client.post(
        "/admin/candidatures/conflitinteret/add/",
        {
            "candidature": dossiers["d3"].pk,
            "jure": jurors["charlie"].pk,
            "motif": "Signalé par téléphone : a travaillé pour Beauvais.",
        },
    )

    conflict = ConflitInteret.objects.get(jure=jurors["charlie"])
    assert response.status_code == 302
    assert conflict.origine == "declare"
    assert conflict.history.get().history_user == staff
    charlie = next(
        row
        for row in tables(staff_client.get(url(appel, "classement/")))["tableau-calibration"]
        if row[0] == "Chloé Charlie"
    )
    assert charlie[1] == "2"


def test_evaluation_list_and_history_show_who_changed_what(staff_client, example):
    appel, dossiers, jurors = example
    request = RequestFactory().post("/")
    request.user = jurors["bravo"]
    HistoricalRecords.context.request = request
    try:
        score(dossiers["d3"], jurors["bravo"], 1, 2, "attente")
    finally:
        del HistoricalRecords.context.request
    evaluation = Evaluation.objects.get(candidature=dossiers["d3"], jure=jurors["bravo"])

    listing = staff_client.get(
        "/admin/candidatures/evaluation/?candidature__appel__id__exact="
        f"{appel.pk}&prise_en_compte=conflit"
    )
    page = staff_client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/change/")
    history = staff_client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/history/")

    listing_rows = [row for row in tables(listing).get("result_list", []) if len(row) > 3]
    assert [row[:3] for row in listing_rows[1:]] == [
        ["AMI-2021-001", "Lille", "Denis Delta (denis.delta@jury.test)"]
    ]
    notes_history = page_text(page)
    notes_rows = re.search(r"Historique des notes :.*?<tbody>(.*?)</tbody>", notes_history)
    when = format_datetime_fr(evaluation.updated_at)
    assert notes_rows.group(1) == (
        f"<tr><td>{when}</td><td>Bruno Bravo (bruno.bravo@jury.test)</td>"
        "<td>Dynamique de transition</td><td>note et commentaire modifiés</td><td>4</td>"
        "<td>1</td><td>A vaut 4</td><td>A vaut 1</td></tr>"
        f"<tr><td>{when}</td><td>—</td><td>Motivation des élu·es</td><td>création</td>"
        "<td>—</td><td>2</td><td>—</td><td>—</td></tr>"
        f"<tr><td>{when}</td><td>—</td><td>Dynamique de transition</td><td>création</td>"
        "<td>—</td><td>4</td><td>—</td><td>A vaut 4</td></tr>"
    )
    assert 'name="_save"' not in page.content.decode()
    assert history.status_code == 200
    history_text = page_text(history)
    assert (
        '<a href="/admin/cerdd_ami/user/{}/change/">Bruno Bravo</a>'.format(jurors["bravo"].pk)
        in history_text
    )
    changes = " ".join(re.sub(r"<[^>]+>", " ", history_text).split())
    assert "Recommandation : Ne pas retenir → Liste d'attente" in changes.replace("\xa0", " ")
    assert "Changes" not in history_text
    assert "None" not in changes


def test_manual_assignment_refuses_a_conflicted_juror(staff_client):
    appel = make_appel(mode_jury=Appel.ModeJury.AFFECTATION)
    make_grid(appel)
    arras = deposer(appel, "62041", 1)
    tied = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )
    free = member(appel, "Anne", "Alpha")
    outsider = juror(email="pas.membre@jury.test")

    refused = staff_client.post(
        "/admin/candidatures/affectation/add/", {"candidature": arras.pk, "jure": tied.pk}
    )
    outside = staff_client.post(
        "/admin/candidatures/affectation/add/", {"candidature": arras.pk, "jure": outsider.pk}
    )
    accepted = staff_client.post(
        "/admin/candidatures/affectation/add/", {"candidature": arras.pk, "jure": free.pk}
    )

    assert "Fanny Foxtrot (fanny.foxtrot@jury.test) est en conflit d'intérêts avec ce dossier." in (
        page_text(refused)
    )
    assert "pas.membre@jury.test) n'est pas membre du jury de cet appel." in page_text(outside)
    assert accepted.status_code == 302
    assert list(Affectation.objects.values_list("candidature", "jure")) == [(arras.pk, free.pk)]


# ---------------------------------------------------------------------------------------------
# Audit fixes: who may sit on a jury, a grid frozen once scored, history pages in French


def test_only_active_staff_in_the_jury_group_can_be_chosen_as_jurors(staff):
    from candidatures.jury.admin_appel import MembreJuryForm
    from candidatures.jury.admin_staff import AffectationForm, ConflitInteretForm

    juror(email="jure@cerdd.test")
    juror(email="partie@cerdd.test", is_active=False)
    # staff (charge@cerdd.test) is active staff but not in the « Jury » group.

    choices = {
        form.__name__: [user.email for user in form().fields[name].queryset]
        for form, name in (
            (MembreJuryForm, "user"),
            (AffectationForm, "jure"),
            (ConflitInteretForm, "jure"),
        )
    }

    assert choices == {
        "MembreJuryForm": ["jure@cerdd.test"],
        "AffectationForm": ["jure@cerdd.test"],
        "ConflitInteretForm": ["jure@cerdd.test"],
    }


def test_staff_outside_the_jury_group_cannot_be_assigned(staff_client, staff):
    appel = make_appel(mode_jury=Appel.ModeJury.AFFECTATION)
    make_grid(appel)
    arras = deposer(appel, "62041", 1)

    response = staff_client.post(
        "/admin/candidatures/affectation/add/", {"candidature": arras.pk, "jure": staff.pk}
    )

    assert response.status_code == 200
    assert Affectation.objects.count() == 0
    assert "Sélectionnez un choix valide." in page_text(response)


def critere_url(critere, page="change/"):
    return f"/admin/candidatures/critere/{critere.pk}/{page}"


def allow_deleting_criteres(user):
    user.user_permissions.add(Permission.objects.get(codename="delete_critere"))


def test_a_scored_critere_keeps_its_scale_and_cannot_be_deleted(staff_client, staff, example):
    allow_deleting_criteres(staff)
    appel = example[0]
    critere = appel.criteres.get(ordre=1)  # scored out of 4
    niveau = critere.niveaux.create(note=2, description="Une démarche structurée.")

    page = staff_client.get(critere_url(critere))
    posted = staff_client.post(
        critere_url(critere),
        {
            "appel": appel.pk,
            "ordre": 1,
            "libelle": "Dynamique de transition (reformulé)",
            "description": "",
            "poids": "1",
            "note_max": "20",
            "niveaux-TOTAL_FORMS": "1",
            "niveaux-INITIAL_FORMS": "1",
            "niveaux-MIN_NUM_FORMS": "0",
            "niveaux-MAX_NUM_FORMS": "1000",
            "niveaux-0-id": niveau.pk,
            "niveaux-0-critere": critere.pk,
            "niveaux-0-note": "9",
            "niveaux-0-description": "Une démarche structurée et suivie.",
            "niveaux-0-DELETE": "on",
        },
    )
    delete_page = staff_client.get(critere_url(critere, "delete/"))
    bulk = staff_client.post(
        "/admin/candidatures/critere/",
        {"action": "delete_selected", "_selected_action": [critere.pk], "post": "yes"},
    )

    critere.refresh_from_db()
    niveau.refresh_from_db()
    text = " ".join(page_text(page).split())
    assert (
        "Des juré·es ont déjà noté ce critère : son appel, sa note maximale et les notes de ses "
        "niveaux ne peuvent plus changer, et il ne peut plus être supprimé" in text
    )
    assert 'name="note_max"' not in page.content.decode()
    assert 'name="niveaux-0-note"' not in page.content.decode()
    assert 'name="niveaux-0-DELETE"' not in page.content.decode()
    assert posted.status_code == 302
    assert (critere.libelle, critere.note_max, critere.appel_id) == (
        "Dynamique de transition (reformulé)",
        4,
        appel.pk,
    )
    assert (niveau.note, niveau.description) == (2, "Une démarche structurée et suivie.")
    assert delete_page.status_code == 403
    assert bulk.status_code == 200
    assert appel.criteres.filter(pk=critere.pk).exists()


def test_an_unscored_critere_stays_fully_editable(staff_client, staff):
    allow_deleting_criteres(staff)
    appel = make_appel()
    critere, _ = make_grid(appel)

    page = staff_client.get(critere_url(critere))
    delete_page = staff_client.get(critere_url(critere, "delete/"))

    assert 'name="note_max"' in page.content.decode()
    assert "Des juré·es ont déjà noté" not in page_text(page)
    assert delete_page.status_code == 200


def history_rows(response):
    return tables(response)["change-history"]


def test_history_pages_are_in_french_without_none(staff_client, example, staff):
    from candidatures.models import Decision, Issue

    _, dossiers, jurors = example
    evaluation = Evaluation.objects.get(candidature=dossiers["d1"], jure=jurors["alpha"])
    decisions_services.decide(
        candidature=dossiers["d1"],
        issue=Issue.RETENUE,
        motivation="Une dynamique portée par les élu·es.",
        staff_user=staff,
    )
    decision = Decision.objects.get()

    pages = {
        "évaluation": staff_client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/history/"),
        "décision": staff_client.get(f"/admin/candidatures/decision/{decision.pk}/history/"),
    }

    for name, response in pages.items():
        text = page_text(response)
        rows = history_rows(response)
        assert response.status_code == 200, name
        assert rows[0] == [
            "Objet",
            "Date",
            "Commentaire",
            "Modifié par",
            "Motif",
            "Modifications",
        ], name
        assert "Changes" not in text, name
        assert "None" not in " ".join(cell for row in rows for cell in row), name
    evaluation_rows = history_rows(pages["évaluation"])
    record = evaluation.history.earliest("history_date")
    assert evaluation_rows[-1][1:] == [
        format_datetime_fr(record.history_date),
        "Création",
        "—",
        "—",
        "—",
    ]
    assert "<h1>Historique : " in page_text(pages["évaluation"])
    assert "<h1>Historique : " in page_text(pages["décision"])


def test_jure_filters_are_titled_jure(staff_client, example):
    response = staff_client.get("/admin/candidatures/evaluation/")

    text = " ".join(page_text(response).split())
    assert response.status_code == 200
    assert "Par juré·e" in text
    assert "Par jure " not in text
    assert [
        str(model._meta.get_field("jure").verbose_name)
        for model in (Evaluation, ConflitInteret, Affectation)
    ] == ["juré·e", "juré·e", "juré·e"]


def test_empty_ranking_row_spans_every_column(staff_client):
    from candidatures.models import Critere

    appel = make_appel()
    for ordre in range(1, 5):
        Critere.objects.create(appel=appel, ordre=ordre, libelle=f"Critère {ordre}", note_max=4)

    page = staff_client.get(url(appel, "classement/"))

    content = page.content.decode()
    table = content[content.index('id="tableau-classement"') :]
    table = table[: table.index("</table>")]
    header = table[: table.index("</thead>")]
    assert header.count("<th ") == 7
    assert '<td colspan="7">Aucun dossier déposé pour l\'instant.</td>' in table


@pytest.mark.parametrize(
    ("now", "filename"),
    [
        # The call named by this year is named once, by the date.
        (datetime(2021, 3, 20, 9, 5, tzinfo=PARIS), "classement-2021-03-20-09h05.csv"),
        (datetime(2026, 12, 6, 8, 0, tzinfo=PARIS), "classement-2021-2026-12-06-08h00.csv"),
    ],
)
def test_ranking_export_file_name_says_the_year_once(staff_client, example, now, filename):
    with time_machine.travel(now, tick=False):
        response = staff_client.get(url(example[0], "classement.csv"))

    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
