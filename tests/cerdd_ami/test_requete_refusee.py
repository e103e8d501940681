"""Text PostgreSQL cannot store (NUL), broken UTF-8 and huge input never make a 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from candidatures.models import PieceJointe
from tests.candidatures.factories import AppelFactory, CandidatureFactory, tiny_pdf_bytes
from tests.factories import UserFactory, charge_de_mission
from tests.hostile import multipart
from tests.utils import page_text

pytestmark = pytest.mark.django_db

REFUSED = "L'adresse ou le formulaire envoyé contient un caractère nul"


@pytest.fixture
def appel():
    return AppelFactory(slug="ami-ouvert")


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.mark.parametrize(
    "url",
    [
        "/collectivites/recherche/?appel=ami-ouvert&q=%00",
        "/collectivites/recherche/?appel=%00&q=Loos",
        "/collectivites/recherche/?appel=ami-ouvert&q%00=Loos",
        "/appel/ami%00/",
        "/connexion/?next=/candidature/%00",
    ],
)
def test_nul_in_a_public_address_answers_400_in_french(client, appel, url):
    response = client.get(url)

    assert response.status_code == 400
    assert REFUSED in page_text(response)


def test_nul_in_the_collectivite_search_of_a_signed_in_applicant_answers_400(
    client, appel, applicant
):
    client.force_login(applicant)

    response = client.get("/candidature/nouvelle/ami-ouvert/?q=Loos%00")

    assert response.status_code == 400
    assert REFUSED in page_text(response)


def test_nul_in_an_admin_search_answers_400(client, appel):
    client.force_login(charge_de_mission())

    response = client.get("/admin/candidatures/candidature/?q=%00")

    assert response.status_code == 400


def test_nul_in_a_posted_field_name_answers_400(client, appel, applicant):
    dossier = CandidatureFactory(appel=appel, createur=applicant)
    client.force_login(applicant)

    response = client.post(f"/candidature/{dossier.pk}/etape/1/", {"adresse\x00": "Place"})

    assert response.status_code == 400


def test_nul_in_a_step_field_is_refused_beside_it_and_nothing_is_saved(client, appel, applicant):
    dossier = CandidatureFactory(appel=appel, createur=applicant, adresse="1 rue Ficheux")
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/etape/1/", {"adresse": "Place\x00", "ville": "Loos"}
    )

    content = page_text(response)
    dossier.refresh_from_db()
    assert response.status_code == 200
    assert (
        '<div id="id_adresse_error" class="invalid-feedback d-block"><p class="mb-0"><strong>'
        "Le caractère nul n’est pas autorisé.</strong></p></div>" in content
    )
    assert (dossier.adresse, dossier.ville) == ("1 rue Ficheux", "")


def test_broken_utf8_in_the_search_is_read_as_replacement_characters(client, appel):
    # A lone surrogate, as a client may send it: UTF-8 encoded anyway, never valid.
    response = client.get("/collectivites/recherche/?appel=ami-ouvert&q=Loos%ED%A0%80")

    assert response.status_code == 200


def test_a_huge_search_reads_only_its_first_hundred_characters(client, appel):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/collectivites/recherche/", {"appel": "ami-ouvert", "q": "a b " * 5000}
        )

    assert response.status_code == 200
    assert max(len(query["sql"]) for query in queries.captured_queries) < 5000


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("lettre\x00.pdf", "lettre.pdf"), ("l" * 800 + ".pdf", "l" * 196 + ".pdf")],
)
def test_a_hostile_uploaded_file_name_is_joined_under_a_safe_name(
    client, appel, applicant, sent, kept
):
    dossier = CandidatureFactory(appel=appel, createur=applicant)
    client.force_login(applicant)
    body, content_type = multipart({}, {"lettre": (sent, tiny_pdf_bytes(), "application/pdf")})

    response = client.post(
        f"/candidature/{dossier.pk}/etape/4/", data=body, content_type=content_type
    )

    assert response.status_code == 302
    assert list(PieceJointe.objects.values_list("nom_original", flat=True)) == [kept]


def test_an_uploaded_file_name_in_broken_utf8_is_refused_in_french(client, appel, applicant):
    dossier = CandidatureFactory(appel=appel, createur=applicant)
    client.force_login(applicant)
    body, content_type = multipart(
        {}, {"lettre": ("lettre\ud800.pdf", tiny_pdf_bytes(), "application/pdf")}
    )

    response = client.post(
        f"/candidature/{dossier.pk}/etape/4/", data=body, content_type=content_type
    )

    assert response.status_code == 200
    assert (
        "Le fichier envoyé n'a pas pu être lu : son nom contient sans doute des caractères "
        "invalides. Renommez-le puis choisissez-le à nouveau ; rien n'a été joint."
    ) in page_text(response)
    assert PieceJointe.objects.count() == 0


@pytest.mark.parametrize("view", ["change", "delete"])
def test_empty_to_field_on_an_admin_page_answers_400_in_french(client, view):
    """Django's admin looks ``?_to_field=`` up as a field named "" and answered 500."""
    appel = AppelFactory()
    client.force_login(UserFactory(email="admin@cerdd.test", is_staff=True, is_superuser=True))

    response = client.get(f"/admin/candidatures/appel/{appel.pk}/{view}/?_to_field=")

    assert response.status_code == 400
    assert "l'adresse est trop longue ou mal formée" in page_text(response)
    assert client.get(f"/admin/candidatures/appel/{appel.pk}/{view}/").status_code == 200
