"""Real Chromium, natural path over the seeded demo: the chargé·e de mission, from the admin
index, sends the next séance's context note, prints its sign-in sheet, changes the attendance
of the séance just held (a technicien·ne absent) and sees the binôme incomplete in the grid."""

import re

import pytest
from playwright.sync_api import expect

from cycle.models import Cycle, MembreBinome, Presence
from cycle.participants.context_notes import context_note_recipients
from tests.browser.axe import assert_accessible
from tests.browser.demo import admin_sign_in
from tests.utils import pdf_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_charge_runs_the_next_seance_and_the_last_one_held(
    live_server, page, mailoutbox, settings, demo
):
    settings.SITE_URL = live_server.url
    mailoutbox.clear()
    cycle = Cycle.objects.get(appel__slug="cycle-en-cours")
    upcoming, held = cycle.next_seance(), cycle.current_seance()
    assert (upcoming.numero, held.numero, upcoming.note_envoyee_at) == (5, 4, None)
    recipients = context_note_recipients(upcoming)
    participant = cycle.participants.actifs().first()
    nom = participant.candidature.collectivite.nom
    tech = participant.membres.get(role=MembreBinome.Role.TECHNICIEN, titulaire=True)

    admin_sign_in(page, live_server)
    page.get_by_role("link", name="Séances", exact=True).click()

    # The next séance's context note, by the admin action.
    row = page.locator("#result_list tbody tr").filter(has_text=str(upcoming))
    row.locator("input.action-select").check()
    page.get_by_role("combobox", name="Action").select_option(label="Envoyer la note de contexte")
    page.get_by_role("button", name="Exécuter").click()
    expect(
        page.get_by_text(f"Séance 5 : note de contexte envoyée à {len(recipients)} personnes.")
    ).to_be_visible()
    assert sorted(address for message in mailoutbox for address in message.to) == sorted(recipients)
    assert "relire votre journal de bord" in mailoutbox[0].body

    # Its sign-in sheet, from the list's link.
    row = page.locator("#result_list tbody tr").filter(has_text=str(upcoming))
    link = row.get_by_role("link", name="Feuille d'émargement")
    # Fetched as the browser does, with its session: Chromium shows a PDF in its viewer.
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200
    text = pdf_text(response.body())
    assert "Feuille d'émargement — séance 5" in text
    for other in cycle.participants.actifs():
        assert other.candidature.collectivite.nom in text
    assert tech.nom in text

    # The séance just held: the technicien·ne was absent after all.
    row = page.locator("#result_list tbody tr").filter(has_text=str(held))
    row.get_by_role("link", name="Saisir les présences").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Présences — séance 4 du")
    assert_accessible(page)
    statut = page.get_by_label(f"Statut de {tech.nom}")
    expect(statut).to_have_value(Presence.objects.get(seance=held, membre=tech).statut)
    statut.select_option(label="Absent·e")
    page.get_by_role("button", name="Enregistrer les présences").click()
    expect(page.get_by_text("Les présences de la séance sont enregistrées.")).to_be_visible()
    expect(page.locator("#alertes-binomes")).to_contain_text(
        f"{nom} : binôme incomplet (technicien·ne absent·e)."
    )
    assert Presence.objects.get(seance=held, membre=tech).statut == Presence.Statut.ABSENT

    # The grid of the cycle.
    page.get_by_role("link", name="Grille des présences du cycle").click()
    expect(page.locator("#alertes-binomes")).to_contain_text(
        f"{nom} — séance 4 du {held.date:%d/%m/%Y} : binôme incomplet (technicien·ne absent·e)."
    )
    expect(page.get_by_role("img", name=re.compile("^Grille des présences"))).to_be_visible()
    assert_accessible(page)
