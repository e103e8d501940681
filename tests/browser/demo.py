"""Natural-path journeys over the seeded demo: the demo as ``make run`` loads it, nothing
prepared behind the user's back, and people sign in as a newcomer does (home page, link read
from the outbox; the admin's own login form for staff)."""

import re

from playwright.sync_api import expect

from cerdd_ami.management.commands.seed_demo import DEMO_PASSWORD

# The participant ``make run`` prints (the ``demo`` fixture of tests/browser/conftest.py).
DEMO_PARTICIPANT = re.compile(r"Participant·e de démonstration .*? : (\S+)")


def sign_in_link(mailoutbox, address) -> str:
    message = [m for m in mailoutbox if address in m.to][-1]
    return re.search(r"https?://\S+/connexion/lien/\?\S+", message.body).group(0)


def sign_in_from_home(page, live_server, mailoutbox, address):
    """Home page → « Accéder à mon dossier » → e-mail → the link received."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Accéder à mon dossier").first.click()
    page.get_by_label("Votre adresse e-mail").fill(address)
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto(sign_in_link(mailoutbox, address))
    expect(page.get_by_role("link", name="Mes candidatures").first).to_be_visible()


def admin_sign_in(page, live_server, email="charge@cerdd.test", password=DEMO_PASSWORD):
    """The admin index, its login form, as the README tells staff."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_text("Bienvenue,")).to_be_visible()


def tick_every_row(page):
    """Tick each row of an admin list, as a person does: the « all » box only works once the
    admin's script has loaded, which a busy machine may not have done yet."""
    rows = page.locator("#result_list input.action-select")
    expect(rows.first).to_be_visible()  # the list has loaded
    for index in range(rows.count()):
        rows.nth(index).check()
