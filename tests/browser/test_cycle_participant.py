"""Real Chromium: a retained collectivité confirms its participation and its binôme, reads a
séance, answers the needs survey, declares a commitment, reads its attestations page and
withdraws; every page passes axe-core (RGAA), error states included."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from cycle.models import DocumentSeance, Engagement, MembreBinome, Participant
from tests.browser.axe import assert_accessible
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
    # Before the cycle starts: the needs survey closes when séance 1 begins.
    today = timezone.localdate()
    for seance in participant.cycle.seances.all():
        seance.date = today + datetime.timedelta(weeks=6 * seance.numero)
        seance.save(update_fields=["date"])
    document = DocumentSeance(
        seance=participant.cycle.seances.get(numero=2),
        titre="Support de la matinée",
        nom_original="support.pdf",
        type_mime="application/pdf",
        taille=16,
    )
    document.fichier.save("support.pdf", ContentFile(b"%PDF-1.4 support"), save=False)
    document.save()
    sign_in(page, live_server, referent)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Espace du cycle").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Espace du cycle de qualification")
    assert_accessible(page)
    page.get_by_role("link", name="Confirmer notre participation et notre binôme").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Participation et binôme")
    assert_accessible(page)

    # The technicien·ne's e-mail forgotten: the summary links to the field.
    technicien = page.get_by_role("group", name="Technicien·ne titulaire")
    technicien.get_by_label("Nom et prénom").fill("Inès Kaddouri")
    technicien.get_by_label("E-mail").fill("")
    page.get_by_role("button", name="Confirmer notre participation et notre binôme").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Votre binôme n'est pas enregistré")
    summary.get_by_role(
        "link",
        name="Technicien·ne titulaire, e-mail : Indiquez l'adresse e-mail du ou de la "
        "technicien·ne titulaire.",
    ).click()
    expect(technicien.get_by_label("E-mail")).to_be_focused()
    assert_accessible(page)

    technicien = page.get_by_role("group", name="Technicien·ne titulaire")
    technicien.get_by_label("E-mail").fill("ines.kaddouri@arras.test")
    page.get_by_role("button", name="Confirmer notre participation et notre binôme").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Merci : la participation de votre collectivité et votre binôme sont confirmés."
    )
    assert_accessible(page)

    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.CONFIRME
    titulaires = MembreBinome.objects.filter(participant=participant, titulaire=True)
    assert sorted(titulaires.values_list("role", "nom")) == [
        ("elu", participant.candidature.ref_pol_nom),
        ("technicien", "Inès Kaddouri"),
    ]

    # A séance's page, from the calendar.
    page.get_by_role("link", name="Séance 2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Séance 2")
    expect(page.locator("ul.documents li")).to_have_text(
        ["Support de la matinée (support.pdf, 16 octets)"]
    )
    assert_accessible(page)
    page.locator("main").get_by_role("link", name="Espace du cycle").click()

    # The needs survey: no theme ranked, then rank 1 given.
    page.get_by_role("link", name="Sondage des besoins").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sondage des besoins")
    assert_accessible(page)
    page.get_by_role("button", name="Envoyer mes réponses").click()
    expect(page.get_by_role("alert")).to_contain_text("Classez au moins un thème")
    assert_accessible(page)
    page.get_by_label(
        "Les alliances citoyen·nes – collectivités : par où commencer ?"
    ).select_option("1")
    page.get_by_role("button", name="Envoyer mes réponses").click()
    expect(page.get_by_role("status").first).to_contain_text("vos réponses au sondage sont")
    assert_accessible(page)

    # A commitment: declared without its description, then with it; then the cycle's ones.
    page.goto(f"{live_server.url}/cycle/")
    page.get_by_role("link", name="Nos engagements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nos engagements à expérimenter")
    assert_accessible(page)
    page.get_by_role("button", name="Déclarer l'engagement").click()
    expect(page.get_by_role("alert")).to_contain_text("L'engagement n'est pas enregistré")
    assert_accessible(page)
    page.get_by_label("Ce que vous allez expérimenter").fill("Un budget participatif jeunesse")
    page.get_by_role("button", name="Déclarer l'engagement").click()
    expect(page.get_by_role("status")).to_contain_text("Votre engagement est enregistré.")
    page.get_by_text("Noter un avancement").click()
    assert_accessible(page)
    assert Engagement.objects.filter(participant=participant).count() == 1
    page.get_by_role("link", name="voir les engagements du cycle").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Les engagements du cycle")
    assert_accessible(page)

    # Attestations: the cycle is not over yet, each person is told so.
    page.goto(f"{live_server.url}/cycle/")
    page.get_by_role("link", name="Attestations de participation").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Attestations de participation")
    expect(page.locator(".attestation-raison").first).to_have_text(
        "L'attestation sera disponible à la fin du cycle."
    )
    assert_accessible(page)

    # Withdrawal: the reason forgotten, then given.
    page.goto(f"{live_server.url}/cycle/")
    page.get_by_role("link", name="Se retirer du cycle").click()
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


def test_cycle_space_without_participation(live_server, page):
    sign_in(page, live_server, UserFactory(email="dgs@bethune.test"))
    page.goto(f"{live_server.url}/cycle/")
    expect(page.locator("main")).to_contain_text("Votre collectivité ne participe pas au cycle.")
    assert_accessible(page)
