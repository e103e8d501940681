"""Real Chromium, natural path over the seeded demo: the demo participant writes an entry about
the latest séance and shares it, keeps another private; a participant of another collectivité
reads the shared one under that séance in « Journal partagé » and in its « Tour de table »
(keyboard navigation), never the private one; the chargé·e's capitalisation PDF holds the
shared entry, not the private one. Every page passes axe-core (RGAA), the empty entry's error
included."""

import re

import pytest
from playwright.sync_api import expect

from cycle.models import EntreeJournal, Participant
from tests.browser.axe import assert_accessible
from tests.browser.demo import admin_sign_in, sign_in_from_home
from tests.utils import pdf_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SHARED = "La Carto Party a réuni 40 habitant·es"
PRIVATE = "Note privée : relancer le maire"


# The empty entry, on purpose: the form answers 400.
@pytest.mark.console_allow("the server responded with a status of 400")
def test_shared_entry_reaches_the_latest_seances_tour_de_table(
    live_server, page, mailoutbox, settings, demo
):
    settings.SITE_URL = live_server.url
    address = demo
    claire = Participant.objects.get(candidature__ref_tech_email=address)
    cycle = claire.cycle
    latest = cycle.current_seance()
    assert latest.numero == 4
    # Another collectivité of the same cycle: its référent·e technique, as the demo has it.
    marc = cycle.participants.exclude(pk=claire.pk).order_by("candidature__numero").first()

    # Claire writes about the latest séance; an empty entry first.
    sign_in_from_home(page, live_server, mailoutbox, address)
    page.get_by_role("link", name="Espace du cycle").click()
    page.get_by_role("link", name="Journal de bord", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Journal de bord")
    assert_accessible(page)
    seance = page.get_by_label("Séance", exact=True)
    options = seance.locator("option").all_inner_texts()
    assert [o.split(" —")[0] for o in options] == [
        "Entre deux séances",
        "Séance 1",
        "Séance 2",
        "Séance 3",
        "Séance 4",
    ]
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("alert")).to_contain_text("L'entrée n'est pas enregistrée")
    assert_accessible(page)
    page.get_by_label("Séance", exact=True).select_option(label=options[-1])
    page.get_by_label("Points forts retenus").fill(SHARED)
    page.get_by_label("Partagée avec tout le cycle").check()
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("status")).to_contain_text("Votre entrée est enregistrée")
    assert_accessible(page)
    page.get_by_label("Séance", exact=True).select_option(label=options[-1])
    page.get_by_label("Idées").fill(PRIVATE)
    expect(page.get_by_label("Privée (moi seul·e)")).to_be_checked()
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("status")).to_contain_text("Votre entrée est enregistrée")
    assert EntreeJournal.objects.get(points_forts=SHARED).seance == latest

    # Marc, of another collectivité, finds it under the latest séance and projects it.
    sign_in_from_home(page, live_server, mailoutbox, marc.candidature.ref_tech_email)
    page.get_by_role("link", name="Espace du cycle").click()
    page.get_by_role("link", name="Journal partagé").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Journal partagé du cycle")
    assert_accessible(page)
    block = page.locator("section.seance-partage").filter(
        has=page.get_by_role("heading", name=re.compile(rf"^Séance {latest.numero} —"))
    )
    expect(block).to_contain_text("Depuis la dernière séance")
    expect(block).to_contain_text(SHARED)
    expect(page.locator("main")).not_to_contain_text(PRIVATE)

    block.get_by_role("link", name="Tour de table (mode projection)").click()
    expect(page.locator(".tour-seance")).to_contain_text(f"Séance {latest.numero}")
    heading = page.get_by_role("heading", level=1)
    assert_accessible(page)
    collectivite = claire.candidature.collectivite.nom
    total = int(page.locator(".tour-position").inner_text().split("/")[1])
    for _ in range(total):
        if heading.inner_text() == collectivite:
            break
        page.wait_for_load_state("load")  # the key handler is attached by a deferred script
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(r"\?i=\d+$"))
    expect(heading).to_have_text(collectivite)
    expect(page.locator("main")).to_contain_text(SHARED)
    expect(page.locator("main")).not_to_contain_text(PRIVATE)
    assert_accessible(page)

    # The chargé·e downloads the capitalisation from the journal's list in the admin.
    admin_sign_in(page, live_server)
    page.get_by_role("link", name="Entrées du journal de bord").first.click()
    link = page.get_by_role("link", name=f"Capitalisation (PDF) — {cycle}")
    # Fetched as the browser does, with its session: Chromium shows a PDF in its viewer.
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    text = pdf_text(pdf)
    assert SHARED in text
    assert PRIVATE not in text
