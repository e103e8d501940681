"""Real Chromium: a retained collectivité confirms its participation and its binôme."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from cycle.models import MembreBinome, Participant
from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_retained_collectivite_confirms_its_binome(live_server, page):
    referent = UserFactory(email="dgs@arras.test")
    participant = ParticipantFactory(createur=referent)
    sign_in(page, live_server, referent)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Espace du cycle").click()
    page.get_by_role("link", name="Confirmer notre participation et notre binôme").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Participation et binôme")
    technicien = page.get_by_role("group", name="Technicien·ne titulaire")
    technicien.get_by_label("Nom et prénom").fill("Inès Kaddouri")
    technicien.get_by_label("E-mail").fill("ines.kaddouri@arras.test")
    page.get_by_role("button", name="Confirmer notre participation et notre binôme").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Merci : la participation de votre collectivité et votre binôme sont confirmés."
    )

    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.CONFIRME
    titulaires = MembreBinome.objects.filter(participant=participant, titulaire=True)
    assert sorted(titulaires.values_list("role", "nom")) == [
        ("elu", participant.candidature.ref_pol_nom),
        ("technicien", "Inès Kaddouri"),
    ]
