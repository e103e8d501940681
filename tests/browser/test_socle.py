"""Real Chromium: a newcomer opens the site, follows the navigation, logs into the admin."""

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_home_navigation_then_admin_login_as_charge(live_server, page, demo):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Appels à manifestation d'intérêt du Cerdd"
    )
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Espace Cerdd et jury"
    ).click()

    expect(page).to_have_url(live_server.url + "/admin/login/?next=/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill("demo-cerdd")
    page.get_by_role("button", name="Connexion").click()

    expect(page).to_have_url(live_server.url + "/admin/")
    expect(page.locator("#site-name")).to_have_text("Cerdd — Appels à manifestation d'intérêt")
    expect(page.get_by_text("Bienvenue,")).to_be_visible()


def test_skip_link_is_first_in_tab_order(live_server, page):
    page.goto(live_server.url + "/")

    page.keyboard.press("Tab")

    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Aller au contenu"
