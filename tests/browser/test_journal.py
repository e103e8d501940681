"""Real Chromium: a participant shares a journal entry; another collectivité reads it in the
shared journal and in the tour de table (keyboard navigation), never the private one; the
chargé·e's capitalisation PDF holds the shared entry and not the private one; every page passes
axe-core (RGAA), the empty entry's error included."""

import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from cerdd_ami.permissions import sync_role_permissions
from cycle.journal import write_entry
from cycle.models import EntreeJournal, Seance
from tests.browser.axe import assert_accessible
from tests.browser.test_cycle_participant import sign_in
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_shared_entry_read_in_shared_journal_and_tour_de_table(live_server, page):
    cycle = CycleFactory()
    claire = UserFactory(email="claire@arras.test")
    marc = UserFactory(email="marc@lens.test")
    arras = ParticipantFactory(cycle=cycle, createur=claire)
    lens = ParticipantFactory(cycle=cycle, createur=marc)
    # Séance 1 took place a week ago, séance 2 is next week: what is written today is read
    # (shared journal, tour de table) at séance 2.
    today = timezone.localdate()
    for s in Seance.objects.filter(cycle=cycle):
        Seance.objects.filter(pk=s.pk).update(date=today + timedelta(days=7 * (s.numero - 2) + 1))
    seance = Seance.objects.get(cycle=cycle, numero=1)
    write_entry(
        participant=lens,
        auteur=marc,
        seance=seance,
        points_vigilance="Mobiliser au-delà des habitué·es",
        visibilite=EntreeJournal.Visibilite.PARTAGEE,
    )

    # Claire writes an entry (private by default), then shares it; and keeps another private.
    sign_in(page, live_server, claire)
    page.goto(f"{live_server.url}/cycle/{arras.pk}/journal/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Journal de bord")
    assert_accessible(page)
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("alert")).to_contain_text("L'entrée n'est pas enregistrée")
    assert_accessible(page)
    page.get_by_label("Séance", exact=True).select_option(str(seance.pk))
    page.get_by_label("Points forts retenus").fill("La Carto Party a réuni 40 habitant·es")
    expect(page.get_by_label("Privée (moi seul·e)")).to_be_checked()
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("status")).to_contain_text("Votre entrée est enregistrée")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("^Modifier")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Modifier une entrée")
    assert_accessible(page)
    page.get_by_label("Partagée avec tout le cycle").check()
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.get_by_role("status")).to_contain_text("Votre entrée est modifiée")
    expect(page.locator(".entree-journal").first).to_contain_text("2 versions")
    page.get_by_label("Séance", exact=True).select_option(str(seance.pk))
    page.get_by_label("Idées").fill("Note privée : relancer le maire")
    page.get_by_role("button", name="Enregistrer l'entrée").click()
    expect(page.get_by_role("status")).to_contain_text("Votre entrée est enregistrée")

    # Marc, of another collectivité, reads the shared entry, not the private one.
    page.context.clear_cookies()
    sign_in(page, live_server, marc)
    page.goto(f"{live_server.url}/cycle/{lens.pk}/journal-partage/")
    main = page.locator("main")
    expect(main).to_contain_text("La Carto Party a réuni 40 habitant·es")
    expect(main).not_to_contain_text("relancer le maire")
    assert_accessible(page)

    names = sorted([arras.candidature.collectivite.nom, lens.candidature.collectivite.nom])
    page.get_by_role("link", name="Tour de table (mode projection)").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(names[0])
    assert_accessible(page)
    page.wait_for_load_state("load")  # the key handler is attached by a deferred-to-end script
    page.keyboard.press("ArrowRight")
    expect(heading).to_have_text(names[1])
    expect(page).to_have_url(re.compile(r"\?i=1$"))
    assert_accessible(page)
    page.wait_for_load_state("load")
    page.keyboard.press("ArrowLeft")
    expect(heading).to_have_text(names[0])
    expect(page.locator("main")).not_to_contain_text("relancer le maire")

    # The chargé·e exports the capitalisation: the shared entry, not the private one.
    sync_role_permissions()
    charge = charge_de_mission(email="charge@cerdd.test")
    page.context.clear_cookies()
    sign_in(page, live_server, charge)
    response = page.request.get(
        f"{live_server.url}/admin/cycle/entreejournal/capitalisation/{cycle.pk}.pdf"
    )
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.body()))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "La Carto Party a réuni 40 habitant·es" in text
    assert "Mobiliser au-delà des habitué·es" in text
    assert "relancer le maire" not in text
    assert EntreeJournal.objects.get(idees="Note privée : relancer le maire").seance == seance
