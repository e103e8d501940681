"""Real Chromium: the chargé·e de mission sends a séance's context note, prints its sign-in
sheet, records attendance with the technicien·ne absent, and sees the binôme incomplete."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import MembreBinome, Presence
from tests.browser.axe import assert_accessible
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import PASSWORD, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_charge_runs_a_seance(live_server, page, mailoutbox, settings):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    cycle = CycleFactory()
    participant = ParticipantFactory(cycle=cycle)
    nom = participant.candidature.collectivite.nom
    elu = participant.membres.get(role=MembreBinome.Role.ELU, titulaire=True)
    tech = participant.membres.get(role=MembreBinome.Role.TECHNICIEN, titulaire=True)
    seance = cycle.seances.get(numero=1)
    seance.note_contexte = "Nous parlerons de la boussole de la participation."
    seance.save()
    mailoutbox.clear()

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_text("Bienvenue,")).to_be_visible()

    # The context note, by the admin action on séance 1.
    page.goto(live_server.url + "/admin/cycle/seance/")
    row = page.locator("#result_list tbody tr").filter(has_text="Séance 1 — 18/05/2021")
    row.locator("input.action-select").check()
    page.get_by_role("combobox", name="Action").select_option(label="Envoyer la note de contexte")
    page.get_by_role("button", name="Exécuter").click()
    expect(page.get_by_text("Séance 1 : note de contexte envoyée à 2 personnes.")).to_be_visible()
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        [elu.email.lower(), tech.email.lower()]
    )
    assert "boussole de la participation" in mailoutbox[0].body

    # The sign-in sheet, as the browser downloads it.
    response = page.request.get(f"{live_server.url}/admin/cycle/seance/{seance.pk}/emargement.pdf")
    assert response.status == 200
    reader = PdfReader(io.BytesIO(response.body()))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert nom in text
    assert elu.nom in text
    assert tech.nom in text

    # Attendance: the élu·e present, the technicien·ne absent.
    page.goto(f"{live_server.url}/admin/cycle/seance/{seance.pk}/presences/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Présences — séance 1 du 18 mai 2021")
    assert_accessible(page)
    page.get_by_label(f"Statut de {elu.nom}").select_option(label="Présent·e")
    page.get_by_label(f"Statut de {tech.nom}").select_option(label="Absent·e")
    page.get_by_role("button", name="Enregistrer les présences").click()
    expect(page.get_by_text("Les présences de la séance sont enregistrées.")).to_be_visible()
    expect(page.locator("#alertes-binomes")).to_have_text(
        re.compile(rf"{re.escape(nom)} : binôme incomplet \(technicien·ne absent·e\)\.")
    )
    assert {p.membre_id: p.statut for p in Presence.objects.all()} == {
        elu.pk: Presence.Statut.PRESENT,
        tech.pk: Presence.Statut.ABSENT,
    }

    # The grid.
    page.get_by_role("link", name="Grille des présences du cycle").click()
    expect(page.locator("#alertes-binomes")).to_have_text(
        re.compile(
            rf"{re.escape(nom)} — séance 1 du 18/05/2021 : binôme incomplet "
            r"\(technicien·ne absent·e\)\."
        )
    )
    expect(page.locator("#grille-donnees tbody tr").first.locator("td").first).to_have_text(
        "✗ Incomplet"
    )
    expect(page.get_by_role("img", name=re.compile("^Grille des présences"))).to_be_visible()
    assert_accessible(page)
