"""What a first-time applicant expects: fields needed for the deposit marked, errors announced,
typing kept, and a way back to their dossier from the home page."""

import re

import pytest

from candidatures.connexion.signin import build_login_url
from candidatures.models import Collectivite
from tests.candidatures.factories import AppelFactory, CandidatureFactory
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

LEGEND = (
    "Les champs marqués « obligatoire » sont à remplir avant de déposer le dossier. "
    "Vous pouvez enregistrer un brouillon incomplet et revenir plus tard."
)


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def appel():
    return AppelFactory(slug="ouvert")


@pytest.fixture
def dossier(appel, applicant):
    return CandidatureFactory(
        appel=appel, collectivite=Collectivite.objects.get(insee="62528"), createur=applicant
    )


def labels_marked(content: str) -> list[str]:
    return re.findall(r'for="id_(\w+)"[^>]*>[^<]*<span class="obligatoire">', content)


@pytest.mark.parametrize(
    ("step", "marked"),
    [
        (1, ["adresse", "code_postal", "ville", "telephone", "email_contact"]),
        (
            2,
            [
                f"{prefix}_{suffix}"
                for prefix in ("ref_pol", "ref_tech")
                for suffix in ("nom", "fonction", "email", "telephone")
            ],
        ),
        (3, ["motivations", "actions", "pistes", "besoins"]),
        (5, ["engagement_binome", "engagement_experimentation", "consentement_donnees"]),
    ],
)
def test_step_marks_the_fields_the_deposit_needs_under_a_legend(
    client, applicant, dossier, step, marked
):
    client.force_login(applicant)

    content = page_text(client.get(f"/candidature/{dossier.pk}/etape/{step}/"))

    assert labels_marked(content) == marked
    assert content.index(LEGEND) < content.index('<form method="post" novalidate')
    assert content.count('<span class="obligatoire">(obligatoire)</span>') == len(marked)


def test_pieces_step_says_the_letter_is_required_for_the_deposit(client, applicant, dossier):
    client.force_login(applicant)

    content = page_text(client.get(f"/candidature/{dossier.pk}/etape/4/"))

    # Each required file question says so on its step (the supporting documents are not).
    assert "« Lettre de motivation » est obligatoire pour déposer le dossier." in content
    assert content.count("est obligatoire pour déposer le dossier.") == 1


def test_step_errors_are_announced_as_alerts(client, applicant, dossier):
    client.force_login(applicant)

    content = page_text(
        client.post(f"/candidature/{dossier.pk}/etape/1/", {"code_postal": "62"}, follow=True)
    )

    assert (
        '<div class="alert alert-danger" role="alert">Certaines réponses sont à corriger : '
        "voir les messages sous les champs.</div>" in content
    )


def test_step_success_messages_stay_polite(client, applicant, dossier):
    client.force_login(applicant)

    content = page_text(
        client.post(f"/candidature/{dossier.pk}/etape/1/", {"ville": "Loos"}, follow=True)
    )

    assert '<div class="alert alert-success" role="status">Brouillon enregistré.</div>' in content


def test_step_forms_warn_before_leaving_with_unsaved_typing(client, applicant, dossier):
    client.force_login(applicant)

    content = page_text(client.get(f"/candidature/{dossier.pk}/etape/3/"))

    assert '<form method="post" novalidate data-brouillon>' in content
    assert '<script src="/static/js/brouillon-non-enregistre.js"></script>' in content


def test_home_offers_signed_out_applicants_a_way_to_their_dossier(client, appel):
    content = page_text(client.get("/"))

    assert '<a href="/connexion/">Accéder à mon dossier</a>' in content
    assert f'href="/candidature/nouvelle/{appel.slug}/">Candidater<span' in content


def test_sign_in_without_destination_lands_on_the_only_dossier(client, applicant, dossier):
    response = client.get(build_login_url(applicant))

    assert response.headers["Location"] == f"/candidature/{dossier.pk}/"


def test_sign_in_without_destination_lands_on_the_list_with_several_dossiers(
    client, applicant, dossier
):
    CandidatureFactory(appel=AppelFactory(), createur=applicant)

    response = client.get(build_login_url(applicant))

    assert response.headers["Location"] == "/candidature/"


def test_sign_in_of_a_newcomer_lands_on_the_list(client):
    response = client.get(build_login_url(UserFactory()))

    assert response.headers["Location"] == "/candidature/"


def test_candidater_leads_a_returning_applicant_to_their_dossier(client, applicant, dossier, appel):
    client.force_login(applicant)

    response = client.get(f"/candidature/nouvelle/{appel.slug}/", follow=True)

    assert response.redirect_chain == [(f"/candidature/{dossier.pk}/", 302)]
    assert (
        "Vous avez déjà un dossier pour cet appel : le voici. Pour une autre collectivité, "
        "passez par « Mes candidatures »." in page_text(response)
    )


def test_candidater_answers_head_as_get_for_a_returning_applicant(
    client, applicant, dossier, appel
):
    client.force_login(applicant)

    response = client.head(f"/candidature/nouvelle/{appel.slug}/")

    assert (response.status_code, response.headers["Location"]) == (
        302,
        f"/candidature/{dossier.pk}/",
    )


def test_candidater_leads_an_applicant_with_several_dossiers_to_the_list(
    client, applicant, dossier, appel
):
    CandidatureFactory(appel=appel, createur=applicant)
    client.force_login(applicant)

    response = client.get(f"/candidature/nouvelle/{appel.slug}/")

    assert response.headers["Location"] == "/candidature/"


def test_another_collectivite_can_still_be_started_from_the_list(client, applicant, dossier, appel):
    client.force_login(applicant)

    listing = page_text(client.get("/candidature/"))
    picker = client.get(f"/candidature/nouvelle/{appel.slug}/?autre=1")

    assert (
        f'<a class="btn btn-outline-primary" href="/candidature/nouvelle/{appel.slug}/?autre=1">'
        f"Candidater pour une autre collectivité à « {appel.titre} »</a>" in listing
    )
    assert "Quelle collectivité candidate ?" in page_text(picker)
