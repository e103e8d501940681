"""The dossiers' admin (candidatures.admin): access, lists, the dossier page; appels, critères,
collectivités.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from candidatures.models import (
    AccesCandidature,
    Collectivite,
    Critere,
    Depot,
    Evenement,
    NiveauCritere,
    PieceJointe,
)
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.admin_helpers import (
    DRAFTS_URL,
    SUBMITTED_URL,
    commune,
    draft,
    epci,
    result_rows,
    submitted,
)
from tests.candidatures.factories import question_of
from tests.factories import UserFactory, juror

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Access


def test_anonymous_is_sent_to_the_admin_login(client):
    response = client.get(SUBMITTED_URL)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login/?next={SUBMITTED_URL}"


def test_applicant_without_staff_status_is_sent_to_the_admin_login(client):
    applicant = UserFactory(email="mairie@arras.test")
    client.force_login(applicant)

    response = client.get(SUBMITTED_URL)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login/?next={SUBMITTED_URL}"


@pytest.mark.parametrize("url", [SUBMITTED_URL, DRAFTS_URL])
def test_juror_has_no_access_to_staff_lists(client, url):
    sync_role_permissions()
    client.force_login(juror())

    response = client.get(url)

    assert response.status_code == 403
    assert "Candidature" not in response.content.decode()


def test_staff_sees_the_call_models_in_the_admin_index(staff_client):
    content = staff_client.get("/admin/").content.decode()

    for label in [
        "Appels",
        "Critères",
        "Collectivités",
        "Candidatures",
        "Brouillons (dossiers en cours)",
    ]:
        assert f">{label}</a>" in content
    assert 'href="/admin/candidatures/brouillon/add/"' not in content
    assert 'href="/admin/candidatures/candidature/add/"' not in content


# ---------------------------------------------------------------------------------------------
# Lists


def test_submitted_and_drafts_are_listed_apart(staff_client, appel):
    submitted(appel, commune("62041"), 1, ref_pol_nom="Frédéric Leturque", ref_pol_fonction="Maire")
    draft(appel, commune("59350"))

    submitted_rows = result_rows(staff_client.get(SUBMITTED_URL).content.decode())
    draft_rows = result_rows(staff_client.get(DRAFTS_URL).content.decode())

    assert submitted_rows == [
        "AMI-2021-001 | Arras | Commune | 62 | 1 mars 2021 à 11 h 00 | Frédéric Leturque, Maire | -"
    ]
    assert len(draft_rows) == 1
    assert draft_rows[0].startswith("Lille | Commune | 59 | Vers des territoires participatifs")
    assert draft_rows[0].endswith("21 éléments manquants")


def test_submitted_draft_pages_are_not_reachable_through_the_other_list(staff_client, appel):
    deposee = submitted(appel, commune("62041"), 1)
    brouillon = draft(appel, commune("59350"))

    wrong_draft = staff_client.get(f"{SUBMITTED_URL}{brouillon.pk}/change/")
    wrong_submitted = staff_client.get(f"{DRAFTS_URL}{deposee.pk}/change/")

    assert wrong_draft.status_code == 302
    assert wrong_draft.headers["Location"] == "/admin/"
    assert wrong_submitted.status_code == 302
    assert wrong_submitted.headers["Location"] == "/admin/"


def test_drafts_list_runs_the_same_queries_for_1_and_10_drafts(
    staff_client, appel, django_assert_num_queries
):
    communes = list(Collectivite.objects.filter(nature="commune").order_by("insee")[:10])
    draft(appel, communes[0])
    staff_client.get(DRAFTS_URL)  # warm-up: content types, session
    with CaptureQueriesContext(connection) as one_draft:
        response = staff_client.get(DRAFTS_URL)
    assert len(result_rows(response.content.decode())) == 1

    for collectivite in communes[1:]:
        draft(appel, collectivite)

    with django_assert_num_queries(len(one_draft.captured_queries)):
        response = staff_client.get(DRAFTS_URL)
    assert len(result_rows(response.content.decode())) == 10


def test_submitted_list_runs_the_same_queries_for_1_and_10_dossiers(
    staff_client, appel, django_assert_num_queries
):
    communes = list(Collectivite.objects.filter(nature="commune").order_by("insee")[:10])
    submitted(appel, communes[0], 1, ref_pol_nom="Élue 1")
    staff_client.get(SUBMITTED_URL)  # warm-up: content types, session
    with CaptureQueriesContext(connection) as one_dossier:
        response = staff_client.get(SUBMITTED_URL)
    assert len(result_rows(response.content.decode())) == 1

    for number, collectivite in enumerate(communes[1:], start=2):
        submitted(appel, collectivite, number, ref_pol_nom=f"Élue {number}")

    with django_assert_num_queries(len(one_dossier.captured_queries)):
        response = staff_client.get(SUBMITTED_URL)
    assert len(result_rows(response.content.decode())) == 10


def test_commune_and_its_epci_applying_are_flagged(staff_client, appel):
    arras = submitted(appel, commune("62041"), 1)
    cu_arras = submitted(appel, epci("200033579"), 2)
    lille = submitted(appel, commune("59350"), 3)

    content = staff_client.get(SUBMITTED_URL).content.decode()

    assert f"⚑ commune/EPCI : {escape("CU d'Arras")}</td>" in content
    assert "⚑ commune/EPCI : Arras</td>" in content
    assert content.count("⚑ commune/EPCI") == 2
    assert [c.collectivite.nom for c in arras.related_candidatures()] == ["CU d'Arras"]
    assert [c.collectivite.nom for c in cu_arras.related_candidatures()] == ["Arras"]
    assert list(lille.related_candidatures()) == []

    flagged = result_rows(staff_client.get(f"{SUBMITTED_URL}?commune_epci=oui").content.decode())
    assert [row.split(" | ")[0] for row in flagged] == ["AMI-2021-001", "AMI-2021-002"]


def test_flag_names_a_draft_of_the_epci_as_such(staff_client, appel):
    submitted(appel, commune("62041"), 1)
    draft(appel, epci("200033579"))

    content = staff_client.get(SUBMITTED_URL).content.decode()

    assert f"⚑ commune/EPCI : {escape("CU d'Arras (brouillon)")}</td>" in content


def test_submitted_list_filters_by_departement_and_searches_by_insee(staff_client, appel):
    submitted(appel, commune("62041"), 1)
    submitted(appel, commune("59350"), 2)

    by_departement = result_rows(
        staff_client.get(f"{SUBMITTED_URL}?departement=59").content.decode()
    )
    by_insee = result_rows(staff_client.get(f"{SUBMITTED_URL}?q=62041").content.decode())

    assert [row.split(" | ")[1] for row in by_departement] == ["Lille"]
    assert [row.split(" | ")[1] for row in by_insee] == ["Arras"]


def test_drafts_list_counts_missing_items_and_offers_only_exports(staff_client, appel):
    brouillon = draft(
        appel,
        commune("62041"),
        adresse="Place Guy Mollet",
        code_postal="62000",
        ville="Arras",
        engagement_binome=True,
    )

    content = staff_client.get(DRAFTS_URL).content.decode()

    assert len(brouillon.missing_items()) == 17
    assert "17 éléments manquants" in content
    actions = re.findall(
        r'<option value="(\w+)">', content.split('name="action"')[1].split("</select>")[0]
    )
    assert actions == ["export_csv", "export_xlsx"]


# ---------------------------------------------------------------------------------------------
# Dossier page


def test_dossier_page_is_read_only_and_links_files_and_receipts(staff_client, appel):
    dossier = submitted(
        appel,
        commune("62041"),
        1,
        ref_pol_nom="Frédéric Leturque",
        ref_tech_nom="Camille Martin",
        motivations="Associer les habitant·es au plan climat.",
        engagement_binome=True,
    )
    piece = PieceJointe.objects.create(
        candidature=dossier,
        question=question_of(appel, "lettre"),
        fichier="dossiers/2021/abc.pdf",
        nom_original="lettre-arras.pdf",
        type_mime="application/pdf",
        taille=204800,
        sha256="ab" * 32,
    )
    applicant = UserFactory(email="mairie@arras.test")
    AccesCandidature.objects.create(
        candidature=dossier, user=applicant, role=AccesCandidature.Role.CREATEUR
    )
    Depot.objects.create(
        candidature=dossier,
        version=1,
        submitted_at=dossier.deposee_at,
        submitted_by=applicant,
        contenu={},
        recu="recus/recu.pdf",
        recu_sha256="cd" * 32,
    )
    Evenement.objects.create(
        candidature=dossier, nature=Evenement.Nature.DEPOT, actor=applicant, statut_apres="deposee"
    )

    content = staff_client.get(f"{SUBMITTED_URL}{dossier.pk}/change/").content.decode()

    for heading in [
        "Coordonnées de la collectivité",
        "Référent·e politique",
        "Référent·e technique",
        "Point contact technique pour le Cerdd",
        "Questionnaire de l&#x27;appel",
        "Engagements",
    ]:
        assert f">{heading}</h2>" in content
    # The call's questionnaire, one heading per step.
    assert "<h3>Motivations et projet</h3>" in content
    assert "<h3>Pièces jointes</h3>" in content
    assert "Frédéric Leturque" in content
    assert "Associer les habitant·es au plan climat." in content
    assert "Arras — commune, INSEE 62041, 62" in content
    assert f'<a href="{piece.get_absolute_url()}">lettre-arras.pdf</a>' in content
    assert f"/candidature/{dossier.pk}/pieces/{piece.pk}/" == piece.get_absolute_url()
    assert "200,0\xa0Kio" in content
    assert "ab" * 32 in content
    assert (
        f'<a href="/candidature/{dossier.pk}/recu/1/">Accusé de réception n° 1 (PDF)</a>' in content
    )
    assert "mairie@arras.test" in content
    assert "Dossier déposé" in content
    engagements = content.split(">Engagements</h2>")[1].split("</fieldset>")[0]
    assert re.findall(r'<div class="readonly">(\w+)</div>', engagements) == [
        "Oui" if dossier.engagement_binome else "Non",
        "Oui" if dossier.engagement_experimentation else "Non",
        "Oui" if dossier.consentement_donnees else "Non",
    ]
    form = content.split('id="candidature_form"')[1].split("</form>")[0]
    inputs = re.findall(r"<(?:input|textarea|select)\b[^>]*>", form)
    assert [i for i in inputs if 'type="hidden"' not in i] == []
    assert 'name="_save"' not in content
    assert 'name="prolongation_jusqu_au' not in content
    assert 'name="ref_pol_nom"' not in content


def test_dossier_page_says_when_the_receipt_is_not_issued_yet(staff_client, appel):
    dossier = submitted(appel, commune("62041"), 1)
    Depot.objects.create(
        candidature=dossier, version=1, submitted_at=dossier.deposee_at, contenu={}
    )

    content = staff_client.get(f"{SUBMITTED_URL}{dossier.pk}/change/").content.decode()

    assert "Accusé de réception en préparation : il sera envoyé par e-mail." in content
    assert f"/candidature/{dossier.pk}/recu/1/" not in content


def test_appel_page_shows_the_numbering_counter_read_only(staff_client, appel):
    submitted(appel, commune("62041"), 7)

    content = staff_client.get(f"/admin/candidatures/appel/{appel.pk}/change/").content.decode()

    assert "Dernier numéro attribué" in content
    assert '<div class="readonly">7</div>' in content
    assert 'name="dernier_numero"' not in content


def test_dossier_page_refuses_changes(staff_client, appel):
    dossier = submitted(appel, commune("62041"), 1, ref_pol_nom="Frédéric Leturque")

    response = staff_client.post(
        f"{SUBMITTED_URL}{dossier.pk}/change/",
        {"ref_pol_nom": "Quelqu'un d'autre", "prolongation_jusqu_au_0": "31/12/2030"},
    )

    dossier.refresh_from_db()
    assert response.status_code == 403
    assert dossier.ref_pol_nom == "Frédéric Leturque"
    assert dossier.prolongation_jusqu_au is None


def test_draft_page_opens_from_the_drafts_list(staff_client, appel):
    brouillon = draft(appel, commune("59350"), ref_tech_nom="Camille Martin")

    content = staff_client.get(f"{DRAFTS_URL}{brouillon.pk}/change/").content.decode()

    assert "Camille Martin" in content
    assert "Lille — commune, INSEE 59350, 59" in content
    assert 'name="_save"' not in content


# ---------------------------------------------------------------------------------------------
# Appels, critères, collectivités


def test_appel_list_shows_state_and_counts(staff_client, appel):
    submitted(appel, commune("62041"), 1)
    submitted(appel, commune("59350"), 2)
    draft(appel, commune("80021"))

    rows = result_rows(staff_client.get("/admin/candidatures/appel/").content.decode())

    assert rows == [
        "Vers des territoires participatifs en Hauts-de-France | Territoires participatifs | "
        "Clos | 10 décembre 2020 à 9 h 00 | 12 mars 2021 à 23 h 59 | — | 2 | 1"
    ]


def test_appel_form_groups_fields_as_the_public_page(staff_client, appel):
    content = staff_client.get(f"/admin/candidatures/appel/{appel.pk}/change/").content.decode()

    for heading in [
        "Textes de la page publique",
        "Calendrier",
        "Contacts et signataire",
        "Capacité et règles",
    ]:
        assert f">{heading}</h2>" in content
    assert "Toutes les dates et heures sont en heure de Paris." in content
    assert 'name="criteres-0-libelle"' in content
    assert 'name="decisions_published_at' not in content


def test_critere_page_offers_one_row_per_score_level(staff_client, appel):
    critere = Critere.objects.create(appel=appel, ordre=1, libelle="Dynamique de transition")
    NiveauCritere.objects.create(critere=critere, note=0, description="Aucune démarche")

    content = staff_client.get(f"/admin/candidatures/critere/{critere.pk}/change/").content.decode()

    assert 'name="niveaux-TOTAL_FORMS" value="5"' in content
    notes = re.findall(r'name="niveaux-\d+-note" value="(\d+)"', content)
    assert notes == ["0", "1", "2", "3", "4"]


def test_critere_level_above_max_score_is_refused(staff_client, appel):
    critere = Critere.objects.create(appel=appel, ordre=1, libelle="Motivation", note_max=4)

    response = staff_client.post(
        f"/admin/candidatures/critere/{critere.pk}/change/",
        {
            "appel": appel.pk,
            "ordre": 1,
            "libelle": "Motivation",
            "description": "",
            "poids": "1",
            "note_max": 4,
            "niveaux-TOTAL_FORMS": 1,
            "niveaux-INITIAL_FORMS": 0,
            "niveaux-MIN_NUM_FORMS": 0,
            "niveaux-MAX_NUM_FORMS": 1000,
            "niveaux-0-note": 5,
            "niveaux-0-description": "Exceptionnel",
        },
    )

    assert "La note ne peut pas dépasser la note maximale du critère (4)." in (
        response.content.decode()
    )
    assert not critere.niveaux.exists()


def test_collectivites_are_searchable_and_read_only(staff_client):
    by_insee = result_rows(
        staff_client.get("/admin/candidatures/collectivite/?q=62041").content.decode()
    )
    by_plain_name = result_rows(
        staff_client.get("/admin/candidatures/collectivite/?q=cu+d+arras").content.decode()
    )
    arras = commune("62041")
    page = staff_client.get(f"/admin/candidatures/collectivite/{arras.pk}/change/")

    # The two booleans are icons, without text.
    assert by_insee == ["Arras | Commune | 62041 | 216200410 | 62 | - | 42875 | CU d'Arras"]
    assert [row.split(" | ")[0] for row in by_plain_name] == ["CU d'Arras"]
    assert 'name="_save"' not in page.content.decode()
    assert staff_client.get("/admin/candidatures/collectivite/add/").status_code == 403
