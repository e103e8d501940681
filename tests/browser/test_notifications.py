"""Real Chromium: an applicant told of the Cerdd's message opens « Mes notifications » from the
menu and chooses the daily digest; then, from the e-mail's link, stops the e-mails (the
confirmation page, then the result). axe-core finds no violation on any of these pages, nor on
the page of a link that no longer works."""

import re

import pytest
from playwright.sync_api import expect

from candidatures.messagerie import services as messagerie
from cerdd_ami.models import Preference
from cerdd_ami.permissions import sync_role_permissions
from tests.browser.axe import assert_accessible
from tests.browser.demo import sign_in_from_home
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.factories import UserFactory, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.console_allow("404")
def test_mes_notifications_and_the_unsubscribe_pages_pass_axe(
    live_server, page, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge = charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", titre="Territoires participatifs 2021")
    applicant = UserFactory(email="mairie@arras.test")
    dossier = complete_candidature(appel=appel, createur=applicant)
    messagerie.post_message(candidature=dossier, auteur=charge, texte="Pouvez-vous préciser ?")
    (told,) = [m for m in mailoutbox if m.to == ["mairie@arras.test"]]

    # « Mes notifications » from the menu: the message waits there; the digest chosen.
    sign_in_from_home(page, live_server, mailoutbox, "mairie@arras.test")
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes notifications")
    expect(page.get_by_role("link", name=re.compile("^Nouveau message du Cerdd"))).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Un résumé quotidien").check()
    page.get_by_role("button", name="Enregistrer mon choix").click()
    expect(page.get_by_role("status")).to_contain_text("Votre choix est enregistré.")
    assert_accessible(page)
    assert Preference.objects.get(user=applicant).mode == Preference.Mode.RESUME

    # The e-mail's « Ne plus recevoir ces e-mails », signed out: confirm, done.
    page.context.clear_cookies()
    link = re.search(r"Ne plus recevoir ces e-mails : (\S+)", told.body).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Ne plus recevoir d'e-mails de notification"
    )
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer : plus d'e-mail de notification").click()
    expect(page.get_by_text("ne recevra plus d'e-mail pour les nouveaux messages")).to_be_visible()
    assert_accessible(page)
    assert Preference.objects.get(user=applicant).mode == Preference.Mode.AUCUN

    # A link cut by a mail client, or forged.
    response = page.goto(link[:-6] + "abcdef/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Ce lien de désabonnement n'est pas valable"
    )
    assert_accessible(page)
