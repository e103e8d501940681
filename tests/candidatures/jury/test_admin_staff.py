"""The staff jury dashboard in the admin (candidatures.jury.admin_staff), through the client:
access and the ranking page.

The data is the hand-computed example of ranking_helpers (see its docstring): three dossiers
scored by Alpha, Bravo and Charlie, Delta in conflict with 001 and a draft on 002.
"""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission

from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import CritereFactory
from tests.candidatures.jury.admin_staff_helpers import DASHBOARD_PAGES, _score_one, tables, url
from tests.candidatures.jury.ranking_helpers import deposer, make_appel, make_grid, member, score
from tests.factories import charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db


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
