"""Real Chromium, over the seeded demo: the home page lists both open calls, the soonest to
close first; a newcomer reaches the second one, « Alimentation durable », applies, and the
counter under its long answer tells the minimum to reach, then the count against the maximum."""

import re

import pytest
from playwright.sync_api import expect

from candidatures.models import Appel
from tests.browser.axe import assert_accessible
from tests.browser.demo import sign_in_link

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NNBSP = "\u202f"
START = "Une légumerie"  # 13 characters
MORE = " intercommunale pour les cantines du bassin minier."  # 51 more: 64


def test_newcomer_reaches_the_second_open_call_from_home_and_the_counter_tells_the_minimum(
    live_server, page, mailoutbox, settings, demo
):
    settings.SITE_URL = live_server.url
    ouvert, alimentation = Appel.objects.open_now()
    assert alimentation.programme == "Alimentation durable"

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Appels à manifestation d'intérêt du Cerdd"
    )
    appels = page.locator(".appels-ouverts > li")
    expect(appels.get_by_role("heading", level=2)).to_have_text([ouvert.titre, alimentation.titre])
    expect(appels.nth(1)).to_contain_text("Programme « Alimentation durable »")
    assert_accessible(page)
    page.get_by_role("link", name=f"Candidater à « {alimentation.titre} »").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion à l'espace de candidature")
    page.get_by_label("Votre adresse e-mail").fill("dgs@bethune.test")
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(
        "Connexion à l'espace de candidature"
    )
    page.goto(sign_in_link(mailoutbox, "dgs@bethune.test"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Quelle collectivité candidate ?")
    page.get_by_label("Nom, code INSEE ou code postal").fill("62119")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name=re.compile("^Béthune")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Référent·es")
    # Screen readers hear the count once typing pauses: the page's timers are the test's.
    page.clock.install()
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Projet alimentaire")
    projet = page.get_by_label("Décrivez votre projet alimentaire territorial")
    counter = page.locator("#id_projet-compteur")
    status = page.locator("#id_projet-compteur-statut")
    expect(counter).to_have_text("0 caractère — encore 50 pour atteindre le minimum de 50")
    expect(page.locator("#id_projet_helptext")).to_have_text(
        f"50 caractères au moins, 3{NNBSP}000 au plus."
    )

    projet.press_sequentially(START)
    expect(counter).to_have_text("13 caractères — encore 37 pour atteindre le minimum de 50")
    # Not spoken at each key: the live region still says what it said on loading…
    expect(status).to_have_text("0 caractère — encore 50 pour atteindre le minimum de 50")
    page.clock.run_for(1000)
    # …and speaks once typing has paused for a second.
    expect(status).to_have_text("13 caractères — encore 37 pour atteindre le minimum de 50")

    projet.press_sequentially(MORE)
    expect(counter).to_have_text(f"64 / 3{NNBSP}000 caractères")
    page.clock.run_for(1000)
    expect(status).to_have_text(f"64 / 3{NNBSP}000 caractères")
    assert (
        projet.get_attribute("aria-describedby") == "id_projet_helptext id_projet-compteur-statut"
    )
    assert_accessible(page)

    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.get_by_role("status").filter(has_text="Brouillon enregistré.")).to_be_visible()
    expect(projet).to_have_value(START + MORE)
    expect(counter).to_have_text(f"64 / 3{NNBSP}000 caractères")
