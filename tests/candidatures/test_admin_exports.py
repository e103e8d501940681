"""The dossiers' admin: exports and extensions."""

import csv
import io
import re
from datetime import datetime

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from candidatures.dossiers.exports import candidatures_rows
from candidatures.models import Candidature, Collectivite, Evenement
from tests.candidatures.admin_helpers import (
    DRAFTS_URL,
    PARIS,
    SUBMITTED_URL,
    commune,
    draft,
    epci,
    export,
    grant,
    messages_of,
    submitted,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Exports


def test_csv_export_of_one_dossier(staff_client, appel):
    dossier = submitted(
        appel,
        commune("62041"),
        1,
        adresse="Place Guy Mollet",
        code_postal="62000",
        ville="Arras",
        telephone="03 21 50 50 50",
        email_contact="mairie@arras.test",
        ref_pol_nom="Frédéric Leturque",
        ref_pol_fonction="Maire",
        ref_pol_email="maire@arras.test",
        ref_pol_telephone="03 21 50 50 51",
        ref_tech_nom="Camille Martin",
        ref_tech_fonction="Chargée de participation",
        ref_tech_email="c.martin@arras.test",
        ref_tech_telephone="03 21 50 50 52",
        motivations="Associer les habitant·es ; « vraiment ».",
        actions="Budget participatif",
        pistes="=1+1",
        besoins="Méthodes\nOutils",
        engagement_binome=True,
        engagement_experimentation=True,
        consentement_donnees=True,
    )
    Candidature.objects.filter(pk=dossier.pk).update(
        created_at=datetime(2021, 1, 5, 9, 30, tzinfo=PARIS),
        updated_at=datetime(2021, 3, 12, 23, 59, 59, tzinfo=PARIS),
        deposee_at=datetime(2021, 3, 12, 23, 59, 59, tzinfo=PARIS),
    )

    response = export(staff_client, SUBMITTED_URL, "export_csv", [dossier.pk])

    body = b"".join(response.streaming_content)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="candidatures-\d{4}-\d\d-\d\d-\d\dh\d\d\.csv"',
        response.headers["Content-Disposition"],
    )
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert lines == [
        [
            "Numéro",
            "Statut",
            "Appel",
            "Collectivité",
            "Nature",
            "Code INSEE",
            "SIREN",
            "Département",
            "EPCI de rattachement",
            "Créée le",
            "Modifiée le",
            "Déposée le",
            "Prolongation accordée jusqu'au",
            "Adresse postale",
            "Code postal",
            "Ville",
            "Téléphone de la collectivité",
            "E-mail de la collectivité",
            "Référent·e politique : nom et prénom",
            "Référent·e politique : fonction",
            "Référent·e politique : e-mail",
            "Référent·e politique : téléphone",
            "Référent·e technique : nom et prénom",
            "Référent·e technique : fonction",
            "Référent·e technique : e-mail",
            "Référent·e technique : téléphone",
            "Point contact technique : nom et prénom",
            "Point contact technique : fonction",
            "Point contact technique : e-mail",
            "Point contact technique : téléphone",
            "Motivations",
            "Actions déjà réalisées ou prévues",
            "Pistes de travail envisagées",
            "Principaux besoins identifiés",
            "Lettre de motivation",
            "Documents complémentaires",
            "Engagement : binôme élu·e / technicien·ne à chaque journée",
            "Engagement : expérimenter sur le territoire",
            "Consentement au traitement des données",
        ],
        [
            "AMI-2021-001",
            "Déposée",
            "Vers des territoires participatifs en Hauts-de-France",
            "Arras",
            "Commune",
            "62041",
            "216200410",
            "62",
            "CU d'Arras",
            "05/01/2021 09:30",
            "12/03/2021 23:59",
            "12/03/2021 23:59",
            "",
            "Place Guy Mollet",
            "62000",
            "Arras",
            "03 21 50 50 50",
            "mairie@arras.test",
            "Frédéric Leturque",
            "Maire",
            "maire@arras.test",
            "03 21 50 50 51",
            "Camille Martin",
            "Chargée de participation",
            "c.martin@arras.test",
            "03 21 50 50 52",
            "",
            "",
            "",
            "",
            "Associer les habitant·es ; « vraiment ».",
            "Budget participatif",
            "'=1+1",
            "Méthodes\nOutils",
            "",
            "",
            "oui",
            "oui",
            "oui",
        ],
    ]


def test_xlsx_export_is_readable_with_the_same_header(staff_client, appel):
    arras = submitted(appel, epci("200033579"), 2, pistes='=HYPERLINK("http://x")')
    Candidature.objects.filter(pk=arras.pk).update(
        deposee_at=datetime(2021, 3, 12, 23, 59, 59, tzinfo=PARIS)
    )
    # The questions' columns are those of the exported dossiers' calls.
    headers, _ = candidatures_rows(Candidature.objects.filter(pk=arras.pk))

    response = export(staff_client, SUBMITTED_URL, "export_xlsx", [arras.pk])

    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert sheet.title == "Candidatures"
    assert list(rows[0]) == headers
    record = dict(zip(headers, rows[1], strict=True))
    assert len(rows) == 2
    assert record["Numéro"] == "AMI-2021-002"
    assert record["Collectivité"] == "CU d'Arras"
    assert record["Nature"] == "Communauté urbaine"
    assert record["SIREN"] == "200033579"
    assert record["Code INSEE"] is None
    assert record["Déposée le"] == datetime(2021, 3, 12, 23, 59, 59)
    assert record["Pistes de travail envisagées"] == '=HYPERLINK("http://x")'
    pistes = sheet.cell(row=2, column=headers.index("Pistes de travail envisagées") + 1)
    # Text, and still text once a user edits the cell (defect 12 of issue 13).
    assert (pistes.data_type, pistes.quotePrefix) == ("s", True)


def test_drafts_export_lists_only_the_selected_drafts(staff_client, appel):
    lille = draft(appel, commune("59350"), ref_pol_nom="Martine Aubry")
    draft(appel, commune("62041"))

    response = export(staff_client, DRAFTS_URL, "export_csv", [lille.pk])

    lines = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    assert re.fullmatch(
        r'attachment; filename="brouillons-[\dh-]+\.csv"', response.headers["Content-Disposition"]
    )
    assert len(lines) == 2
    assert lines[1][:5] == ["", "Brouillon", appel.titre, "Lille", "Commune"]
    assert lines[1][18] == "Martine Aubry"


def test_export_query_count_does_not_grow_with_dossiers(appel, django_assert_num_queries):
    communes = list(Collectivite.objects.filter(nature="commune").order_by("insee")[:12])
    submitted(appel, communes[0], 1, motivations="Première")
    with CaptureQueriesContext(connection) as one_dossier:
        _, rows = candidatures_rows(Candidature.objects.all())
        assert len(list(rows)) == 1
    for number, collectivite in enumerate(communes[1:], start=2):
        submitted(appel, collectivite, number, motivations=f"Réponse {number}")

    # The questions' columns, the dossiers, then their answers, pieces, steps and questions.
    assert len(one_dossier.captured_queries) == 6
    with django_assert_num_queries(6):
        _, rows = candidatures_rows(Candidature.objects.all())
        assert len(list(rows)) == 12


# ---------------------------------------------------------------------------------------------
# Extension


def test_extension_action_shows_a_form_with_french_labels(staff_client, appel):
    dossier = submitted(appel, commune("62041"), 1)

    response = staff_client.post(
        SUBMITTED_URL,
        {"action": "accorder_prolongation", "index": "0", "_selected_action": [dossier.pk]},
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_until">Prolongation jusqu&#x27;au\xa0:</label>' in content
    assert '<label for="id_reason">Motif\xa0:</label>' in content
    assert '<input type="datetime-local" name="until"' in content
    assert "<li>Arras — AMI-2021-001</li>" in content
    assert f'<input type="hidden" name="_selected_action" value="{dossier.pk}">' in content


def test_extension_action_requires_a_date_and_a_reason(staff_client, appel):
    dossier = submitted(appel, commune("62041"), 1)

    response = staff_client.post(
        SUBMITTED_URL,
        {
            "action": "accorder_prolongation",
            "_selected_action": [dossier.pk],
            "apply": "1",
            "until": "",
            "reason": "",
        },
    )

    content = response.content.decode()
    dossier.refresh_from_db()
    assert content.count("Ce champ est obligatoire.") == 2
    assert dossier.prolongation_jusqu_au is None
    assert not Evenement.objects.filter(candidature=dossier).exists()


def test_extension_action_grants_and_logs(staff_client, staff, appel):
    arras = submitted(appel, commune("62041"), 1)
    lille = submitted(appel, commune("59350"), 2)
    untouched = submitted(appel, commune("80021"), 3)
    until = datetime(2021, 3, 19, 23, 59, tzinfo=PARIS)

    response = grant(staff_client, [arras, lille], until)

    for dossier in (arras, lille):
        dossier.refresh_from_db()
        assert dossier.prolongation_jusqu_au == until
        evenement = Evenement.objects.get(candidature=dossier)
        assert evenement.nature == Evenement.Nature.PROLONGATION
        assert evenement.actor == staff
        assert "Panne du site le jour du dépôt" in evenement.detail
    untouched.refresh_from_db()
    assert untouched.prolongation_jusqu_au is None
    assert response.redirect_chain == [(SUBMITTED_URL, 302)]
    assert messages_of(response) == [
        "Prolongation accordée jusqu'au 19 mars 2021 à 23 h 59 (heure de Paris) à 2 dossiers."
    ]


def test_extension_refused_by_the_service_is_shown_as_an_error(staff_client, appel):
    arras = submitted(appel, commune("62041"), 1)

    response = grant(staff_client, [arras], datetime(2021, 3, 10, 12, 0, tzinfo=PARIS))

    arras.refresh_from_db()
    assert arras.prolongation_jusqu_au is None
    assert not Evenement.objects.filter(candidature=arras).exists()
    [message] = messages_of(response)
    assert message.startswith(
        "Arras (AMI-2021-001) : La prolongation doit aller au-delà de la date limite de l'appel"
    )


def test_extension_action_is_not_offered_on_drafts(staff_client, appel):
    brouillon = draft(appel, commune("62041"))

    response = staff_client.post(
        DRAFTS_URL,
        {
            "action": "accorder_prolongation",
            "index": "0",
            "_selected_action": [brouillon.pk],
            "apply": "1",
            "until": "2030-01-01T12:00",
            "reason": "Essai",
        },
    )

    brouillon.refresh_from_db()
    assert response.status_code == 302
    assert brouillon.prolongation_jusqu_au is None
    assert not Evenement.objects.filter(candidature=brouillon).exists()
