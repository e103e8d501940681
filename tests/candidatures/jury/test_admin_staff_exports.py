"""The staff jury dashboard: exports, the procès-verbal, the register of conflicts,
évaluations and their history, assignments (data: the example of ranking_helpers).
"""

import csv
import io
import re

import openpyxl
import pytest
from django.test import RequestFactory
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.jury import services as jury_services
from candidatures.models import Affectation, Appel, Collectivite, ConflitInteret, Evaluation
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from tests.candidatures.jury.admin_staff_helpers import tables, url
from tests.candidatures.jury.ranking_helpers import deposer, make_appel, make_grid, member, score
from tests.factories import juror
from tests.utils import page_text, pdf_text

pytestmark = pytest.mark.django_db


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
