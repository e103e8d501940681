"""Real Chromium, natural path over the seeded demo: the demo participant signs in from the
home page with the link read from the outbox, opens « Espace du cycle » (séances 1–4 held, the
next one to come), changes their binôme then « Enregistrer le binôme » (the first confirmation
date stays), reads a séance and its document, declares a commitment, reads the attestations
page and withdraws; every page passes axe-core (RGAA), error states included."""

import re

import pytest
from playwright.sync_api import expect

from candidatures.models import Candidature
from cycle.models import Engagement, MembreBinome, Participant
from tests.browser.axe import assert_accessible
from tests.browser.demo import sign_in_from_home

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


# The commitment declared without its description, on purpose: the form answers 400.
@pytest.mark.console_allow("the server responded with a status of 400")
def test_demo_participant_changes_the_binome_and_follows_the_cycle(
    live_server, page, mailoutbox, settings, demo
):
    settings.SITE_URL = live_server.url
    address = demo
    participant = Participant.objects.get(candidature__ref_tech_email=address)
    confirmed_on = participant.confirme_at

    # An applicant of the recent call (no decision yet) has no participation.
    applicant = Candidature.objects.filter(
        appel__cycle_qualification__isnull=True, statut=Candidature.Statut.DEPOSEE
    ).first()
    sign_in_from_home(page, live_server, mailoutbox, applicant.ref_tech_email)
    expect(page.get_by_role("link", name="Espace du cycle")).to_have_count(0)

    sign_in_from_home(page, live_server, mailoutbox, address)
    page.get_by_role("link", name="Espace du cycle").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Espace du cycle de qualification")
    assert_accessible(page)
    expect(page.locator(".prochaine-seance")).to_contain_text("Séance 5")
    etats = page.locator("table.calendrier tbody tr td:nth-child(4)")
    expect(etats).to_have_text(["A eu lieu"] * 4 + ["Confirmée", "Prévue", "Prévue"])
    card = page.locator(".participations li").first
    confirmation = card.locator("p").first.inner_text()
    assert re.search(r"Confirmé le \d+ \w+ \d{4}", confirmation)

    # The binôme: the technicien·ne's e-mail erased by mistake, then a new technicien·ne.
    page.get_by_role("link", name="Modifier notre binôme").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Participation et binôme")
    assert_accessible(page)
    technicien = page.get_by_role("group", name="Technicien·ne titulaire")
    technicien.get_by_label("Nom et prénom").fill("Inès Kaddouri")
    technicien.get_by_label("E-mail").fill("")
    page.get_by_role("button", name="Enregistrer le binôme").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Votre binôme n'est pas enregistré")
    summary.get_by_role(
        "link",
        name="Technicien·ne titulaire, e-mail : Indiquez l'adresse e-mail du ou de la "
        "technicien·ne titulaire.",
    ).click()
    technicien = page.get_by_role("group", name="Technicien·ne titulaire")
    expect(technicien.get_by_label("E-mail")).to_be_focused()
    expect(technicien.get_by_label("Nom et prénom")).to_have_value("Inès Kaddouri")
    assert_accessible(page)
    technicien.get_by_label("E-mail").fill("ines.kaddouri@grande-synthe.test")
    page.get_by_role("button", name="Enregistrer le binôme").click()
    expect(page.get_by_role("status")).to_contain_text("Votre binôme est enregistré.")
    assert_accessible(page)
    expect(page.locator(".participations li").first.locator("p").first).to_have_text(confirmation)
    participant.refresh_from_db()
    assert participant.confirme_at == confirmed_on
    titulaires = MembreBinome.objects.filter(participant=participant, titulaire=True)
    assert sorted(titulaires.values_list("role", "nom", "email")) == [
        ("elu", participant.candidature.ref_pol_nom, participant.candidature.ref_pol_email),
        ("technicien", "Inès Kaddouri", "ines.kaddouri@grande-synthe.test"),
    ]

    # A séance held, from the calendar, with the document the Cerdd shared.
    page.get_by_role("link", name="Séance 2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Séance 2")
    expect(page.locator("ul.documents li")).to_contain_text(["Support de la conférence-débat"])
    assert_accessible(page)
    page.locator("main").get_by_role("link", name="Espace du cycle").click()

    # A commitment: declared without its description, then with it.
    page.get_by_role("link", name="Nos engagements").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nos engagements à expérimenter")
    assert_accessible(page)
    before = Engagement.objects.filter(participant=participant).count()
    page.get_by_role("button", name="Déclarer l'engagement").click()
    expect(page.get_by_role("alert")).to_contain_text("L'engagement n'est pas enregistré")
    assert_accessible(page)
    page.get_by_label("Ce que vous allez expérimenter").fill("Un budget participatif jeunesse")
    page.get_by_role("button", name="Déclarer l'engagement").click()
    expect(page.get_by_role("status")).to_contain_text("Votre engagement est enregistré.")
    assert Engagement.objects.filter(participant=participant).count() == before + 1

    # Attestations: the cycle is not over yet, each person is told so.
    page.get_by_role("link", name="Espace du cycle").first.click()
    page.get_by_role("link", name="Attestations de participation").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Attestations de participation")
    expect(page.locator(".attestation-raison").first).to_have_text(
        "L'attestation sera disponible à la fin du cycle."
    )
    assert_accessible(page)

    # Withdrawal: the reason forgotten, then given.
    page.get_by_role("link", name="Espace du cycle").first.click()
    page.get_by_role("link", name="Se retirer du cycle").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retrait de")
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer le retrait").click()
    expect(page.get_by_text("Indiquez le motif du retrait.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Motif du retrait").fill("Le conseil municipal a renoncé au cycle.")
    page.get_by_role("button", name="Confirmer le retrait").click()
    expect(page.locator(".retrait-enregistre")).to_be_visible()
    assert_accessible(page)
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.RETIRE
