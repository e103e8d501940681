"""Mail anyone signed in can trigger (the co-référent·e invitation, the « demande d'accès »)
counts against the sign-in links' budget: per address and per IP, within the last hour."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from candidatures.models import AccesCandidature, Collectivite, DemandeLienConnexion, Evenement
from tests.candidatures.factories import AppelFactory, CandidatureFactory
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

REFUSED = (
    "Trop d'e-mails ont été demandés pour cette adresse ou depuis votre connexion internet. "
    "Par sécurité, réessayez dans une heure."
)


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def dossier(applicant):
    return CandidatureFactory(
        appel=AppelFactory(slug="ouvert"),
        collectivite=Collectivite.objects.get(insee="62528"),
        createur=applicant,
        ref_pol_email="maire@loos.test",
    )


def invite(client, dossier, email, ip="192.0.2.10"):
    return client.post(
        f"/candidature/{dossier.pk}/inviter/", {"email": email}, follow=True, REMOTE_ADDR=ip
    )


def ask_access(client, ip="192.0.2.20"):
    return client.post(
        "/candidature/nouvelle/ouvert/",
        {"collectivite": "216205286", "action": "demande_acces"},
        follow=True,
        REMOTE_ADDR=ip,
    )


def test_invitations_to_one_address_stop_at_the_address_budget(
    client, applicant, dossier, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = 2
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        sent = [invite(client, dossier, "elu@loos.test", ip=f"192.0.2.{n}") for n in (1, 2)]
        refused = invite(client, dossier, "Elu@Loos.test", ip="192.0.2.3")

    assert [m.to for m in mailoutbox] == [["elu@loos.test"], ["elu@loos.test"]]
    assert all("Invitation envoyée à elu@loos.test." in page_text(r) for r in sent)
    assert REFUSED in page_text(refused)
    assert list(
        dossier.evenements.filter(nature=Evenement.Nature.INVITATION).values_list(
            "detail", flat=True
        )
    ) == ["elu@loos.test", "elu@loos.test"]
    assert DemandeLienConnexion.objects.count() == 2


def test_invitations_from_one_ip_stop_at_the_ip_budget(
    client, applicant, dossier, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SIGN_IN_LINKS_PER_IP_PER_HOUR = 3
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            invite(client, dossier, f"personne{n}@loos.test")
        refused = invite(client, dossier, "personne3@loos.test")
        elsewhere = invite(client, dossier, "personne4@loos.test", ip="198.51.100.4")

    assert REFUSED in page_text(refused)
    assert "Invitation envoyée à personne4@loos.test." in page_text(elsewhere)
    assert len(mailoutbox) == 4
    assert not AccesCandidature.objects.filter(user__email="personne3@loos.test").exists()


def test_an_invitation_spends_the_invitees_sign_in_budget_too(
    client, applicant, dossier, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = 1
    client.force_login(applicant)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, dossier, "elu@loos.test")
    client.logout()

    response = client.post("/connexion/", {"email": "elu@loos.test"}, REMOTE_ADDR="192.0.2.99")

    assert response.status_code == 429
    assert len(mailoutbox) == 1


def test_access_requests_stop_at_the_budget_with_a_french_message(
    client, dossier, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = 2
    client.force_login(UserFactory(email="curieux@ailleurs.test"))

    with django_capture_on_commit_callbacks(execute=True):
        first, second = ask_access(client, ip="192.0.2.1"), ask_access(client, ip="192.0.2.2")
        refused = ask_access(client, ip="192.0.2.3")

    assert "Votre demande a été transmise aux référent·es" in page_text(first)
    assert "Votre demande a été transmise aux référent·es" in page_text(second)
    assert REFUSED in page_text(refused)
    assert len(mailoutbox) == 2
    assert dossier.evenements.filter(nature=Evenement.Nature.DEMANDE_ACCES).count() == 2


def test_the_budget_lifts_after_an_hour(
    client, applicant, dossier, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = 1
    client.force_login(applicant)
    start = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(start, tick=False):
            invite(client, dossier, "elu@loos.test")
        with time_machine.travel(start + timedelta(minutes=59), tick=False):
            refused = invite(client, dossier, "elu@loos.test")
        with time_machine.travel(start + timedelta(minutes=60, seconds=1), tick=False):
            accepted = invite(client, dossier, "elu@loos.test")

    assert REFUSED in page_text(refused)
    assert "Invitation envoyée à elu@loos.test." in page_text(accepted)
    assert len(mailoutbox) == 2
