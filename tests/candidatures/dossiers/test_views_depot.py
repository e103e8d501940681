"""Step 5: the commitments ticked on the page and « Déposer la candidature » are one form."""

from datetime import timedelta

import pytest
from django.utils import timezone

from candidatures.models import Candidature, Depot
from tests.candidatures.factories import AppelFactory, answer, complete_candidature
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

TICKED = {"engagement_binome": "on", "engagement_experimentation": "on"}
ALL_TICKED = {**TICKED, "consentement_donnees": "on"}


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def unticked(applicant):
    """A dossier complete but for its three commitments, never saved with them."""
    return complete_candidature(
        appel=AppelFactory(),
        createur=applicant,
        engagement_binome=False,
        engagement_experimentation=False,
        consentement_donnees=False,
    )


def test_deposit_takes_the_commitments_ticked_on_the_same_page(
    client, applicant, unticked, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/candidature/{unticked.pk}/etape/5/", {**ALL_TICKED, "deposer": ""}, follow=True
        )

    unticked.refresh_from_db()
    assert (unticked.statut, Depot.objects.filter(candidature=unticked).count()) == ("deposee", 1)
    assert (
        unticked.engagement_binome,
        unticked.engagement_experimentation,
        unticked.consentement_donnees,
    ) == (True, True, True)
    assert response.redirect_chain == [(f"/candidature/{unticked.pk}/", 302)]
    assert f"Votre candidature est déposée sous le numéro {unticked.numero}." in page_text(response)
    assert len(mailoutbox) == 1


def test_deposit_with_a_box_left_unticked_keeps_the_ticks_and_says_which_is_missing(
    client, applicant, unticked
):
    client.force_login(applicant)

    response = client.post(f"/candidature/{unticked.pk}/etape/5/", {**TICKED, "deposer": ""})

    content = page_text(response)
    unticked.refresh_from_db()
    assert unticked.statut == Candidature.Statut.BROUILLON
    assert (
        unticked.engagement_binome,
        unticked.engagement_experimentation,
        unticked.consentement_donnees,
    ) == (True, True, False)
    assert response.status_code == 200
    assert content.count("manque.") == 1
    assert (
        '<div id="id_consentement_donnees_error" class="invalid-feedback d-block">'
        '<p class="mb-0"><strong>Le consentement au traitement des données personnelles '
        "manque.</strong></p></div>" in content
    )
    assert (
        'name="engagement_binome" class="form-check-input" id="id_engagement_binome" checked'
        in (content)
    )
    assert 'id="id_consentement_donnees" checked' not in content


def test_deposit_of_an_incomplete_dossier_saves_the_ticks_and_lists_the_other_steps(
    client, applicant, unticked
):
    answer(unticked, "motivations", "")
    unticked.save()
    client.force_login(applicant)

    response = client.post(f"/candidature/{unticked.pk}/etape/5/", {**ALL_TICKED, "deposer": ""})

    content = page_text(response)
    unticked.refresh_from_db()
    assert (unticked.statut, unticked.consentement_donnees) == ("brouillon", True)
    assert "Il manque les motivations de la collectivité." in content
    assert "manque." not in content


def test_step_5_missing_box_lists_other_steps_not_the_boxes_of_the_page(
    client, applicant, unticked
):
    answer(unticked, "pistes", "")
    unticked.save()
    client.force_login(applicant)

    content = page_text(client.get(f"/candidature/{unticked.pk}/etape/5/"))

    box = content.split("il reste à compléter :", 1)[1].split("</ul>", 1)[0]
    assert (
        f'<li><a href="/candidature/{unticked.pk}/etape/3/">Il manque les pistes de travail '
        "envisagées.</a></li>" in box
    )
    assert box.count("<li>") == 1


def test_step_5_save_draft_button_keeps_the_ticks_without_depositing(client, applicant, unticked):
    client.force_login(applicant)

    response = client.post(f"/candidature/{unticked.pk}/etape/5/", {**TICKED, "enregistrer": ""})

    unticked.refresh_from_db()
    assert response.headers["Location"] == f"/candidature/{unticked.pk}/etape/5/"
    assert (unticked.statut, unticked.engagement_binome, unticked.consentement_donnees) == (
        "brouillon",
        True,
        False,
    )


def test_deposit_past_the_deadline_saves_nothing_and_says_why(client, applicant):
    appel = AppelFactory(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(days=1)
    )
    late = complete_candidature(appel=appel, createur=applicant, consentement_donnees=False)
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{late.pk}/etape/5/", {**ALL_TICKED, "deposer": ""}, follow=True
    )

    late.refresh_from_db()
    assert (late.statut, late.consentement_donnees) == ("brouillon", False)
    assert "La date limite est passée : ce dossier ne peut plus être modifié." in page_text(
        response
    )


def test_deposit_clicked_twice_deposits_once_and_says_so(
    client, applicant, unticked, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(applicant)
    url = f"/candidature/{unticked.pk}/etape/5/"

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**ALL_TICKED, "deposer": ""})
        second = client.post(url, {**ALL_TICKED, "deposer": ""}, follow=True)

    assert Depot.objects.filter(candidature=unticked).count() == 1
    assert second.redirect_chain == [(f"/candidature/{unticked.pk}/", 302)]
    assert "Ce dossier est déjà déposé." in page_text(second)
    assert len(mailoutbox) == 1
