"""Real Chromium over the seeded demo: the demo participant (Claire) opts into the cycle's
directory and opens a discussion, by keyboard, after an empty try; a participant of another
collectivité (Marc) finds her e-mail in the directory, reads the discussion and answers by
keyboard; Claire, who follows it, gets the notification e-mail with the link and reads it.
The team hides a message from the admin, with its reason, and its author is told. Every page
passes axe-core."""

import re

import pytest
from playwright.sync_api import expect

from cerdd_ami.models import Notification
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Discussion, Participant
from cycle.reseau import services
from tests.browser.axe import assert_accessible
from tests.browser.demo import admin_sign_in, sign_in_from_home
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import PASSWORD, UserFactory, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TITLE = "Budget participatif : vos critères de recevabilité"
FIRST = "Bonjour,\nquels critères retenez-vous pour les projets <des habitant·es> ?"
REPLY = "Nous publions une grille simple.\nJe vous l'envoie volontiers."


def network_link(page, name):
    page.get_by_role("link", name="Espace du cycle").click()
    page.get_by_role("link", name=name, exact=True).first.click()


def test_two_collectivites_discuss_after_one_opts_into_the_directory(
    live_server, page, mailoutbox, settings, demo
):
    settings.SITE_URL = live_server.url
    address = demo
    claire = Participant.objects.get(candidature__ref_tech_email=address)
    cycle = claire.cycle
    marc = cycle.participants.exclude(pk=claire.pk).order_by("candidature__numero").first()
    marc_address = marc.candidature.ref_tech_email

    # Claire agrees to show her contacts.
    sign_in_from_home(page, live_server, mailoutbox, address)
    network_link(page, "Annuaire du cycle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Annuaire du cycle")
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^J'accepte que mon adresse e-mail")).click()
    expect(page.get_by_role("status")).to_contain_text("sont visibles des participant·es")
    assert_accessible(page)

    # She opens a discussion by keyboard, after an empty try.
    page.get_by_role("link", name="Discussions", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Discussions du cycle")
    assert_accessible(page)
    page.get_by_role("button", name="Ouvrir la discussion").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("La discussion n'est pas ouverte")
    assert_accessible(page)
    page.get_by_label("Titre").focus()
    page.keyboard.type(TITLE)
    page.keyboard.press("Tab")  # the theme
    page.keyboard.press("Tab")  # the séance
    page.keyboard.press("Tab")  # the message
    for number, line in enumerate(FIRST.split("\n")):
        if number:
            page.keyboard.press("Shift+Enter")
        page.keyboard.type(line)
    expect(page.get_by_label("Votre message")).to_have_value(FIRST)
    page.keyboard.press("Tab")  # the file
    page.keyboard.press("Tab")  # the button
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Votre discussion est ouverte")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    assert_accessible(page)
    discussion = Discussion.objects.get(titre=TITLE)

    # Marc, of another collectivité, sees her address, reads and answers by keyboard.
    mailoutbox.clear()
    sign_in_from_home(page, live_server, mailoutbox, marc_address)
    network_link(page, "Annuaire du cycle")
    card = page.locator(f"#collectivite-{claire.pk}")
    expect(card.get_by_role("link", name=address)).to_be_visible()
    page.get_by_role("link", name="Discussions", exact=True).first.click()
    page.get_by_role("link", name=TITLE).click()
    message = page.locator("article.message-reseau").first
    expect(message).to_contain_text(
        "quels critères retenez-vous pour les projets <des habitant·es> ?"
    )
    assert message.locator(".texte-message br").count() == 1
    assert_accessible(page)
    page.get_by_label("Votre message").focus()
    for number, line in enumerate(REPLY.split("\n")):
        if number:
            page.keyboard.press("Shift+Enter")
        page.keyboard.type(line)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Votre réponse est publiée")
    expect(page.locator("article.message-reseau").last).to_contain_text(
        "Je vous l'envoie volontiers."
    )
    assert_accessible(page)
    assert discussion.messages.count() == 2

    # Claire follows her discussion: one e-mail, with the link to Marc's answer.
    to_claire = [m for m in mailoutbox if m.to == [address]]
    assert len(to_claire) == 1
    assert to_claire[0].subject.endswith(f"dans la discussion « {TITLE} »")
    assert to_claire[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    reply = discussion.messages.order_by("pk").last()
    path = f"/cycle/{claire.pk}/reseau/discussions/{discussion.pk}/#message-{reply.pk}"
    link = live_server.url + path
    assert link in to_claire[0].body
    sign_in_from_home(page, live_server, mailoutbox, address)
    page.goto(link)
    expect(page.locator(f"#message-{reply.pk}")).to_contain_text("Nous publions une grille simple.")
    # Opening it reads its notification (« Mes notifications », the menu's count).
    assert Notification.objects.get(url=path).read_at is not None


def test_staff_hide_a_message_from_the_admin_and_its_author_is_told(
    live_server, page, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    cycle = CycleFactory()
    author = UserFactory(email="mairie@arras.test")
    participant = ParticipantFactory(cycle=cycle, createur=author)
    discussion = services.start_discussion(
        participant=participant,
        auteur=author,
        titre="Budget participatif",
        texte="Un propos <b>déplacé</b>.",
    )
    message = discussion.messages.get()

    # From the admin index: the discussions, the thread, « Masquer », the reason.
    admin_sign_in(page, live_server, password=PASSWORD)
    page.get_by_role("main").get_by_role("link", name="Discussions", exact=True).click()
    assert_accessible(page)
    page.get_by_role("link", name="Budget participatif").click()
    expect(page.get_by_text("Un propos <b>déplacé</b>.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Masquer").click()
    expect(page.get_by_role("heading", name="Masquer un message", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Masquer le message").click()
    expect(page.get_by_text("Ce champ est obligatoire.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Motif").fill("Propos hors sujet.")
    page.get_by_role("button", name="Masquer le message").click()
    expect(page.get_by_text("Le message est masqué")).to_be_visible()
    expect(page.get_by_text("Masqué : Propos hors sujet.")).to_be_visible()
    assert_accessible(page)

    message.refresh_from_db()
    assert message.masque_motif == "Propos hors sujet."
    (told,) = [m for m in mailoutbox if m.to == ["mairie@arras.test"]]
    assert "Propos hors sujet." in told.body
