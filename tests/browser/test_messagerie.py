"""Real Chromium: the Cerdd asks a collectivité for a missing piece from the admin; the
applicant gets the e-mail, follows its link (signing in by link), answers with the file, and
the team sees it in the thread and among the dossier's pieces. The same exchange by keyboard
alone: the applicant writes with an attachment, the team replies from the admin's inbox."""

import re
import zoneinfo
from datetime import datetime

import pytest
from playwright.sync_api import expect

from candidatures.dossiers import submission
from cerdd_ami.permissions import sync_role_permissions
from tests.browser.axe import assert_accessible
from tests.browser.demo import admin_sign_in
from tests.browser.keyboard import (
    choose_file_in_focused_field,
    enter_and_load,
    keyboard_admin_sign_in,
    keyboard_sign_in_from_home,
    tab_to,
    type_lines,
)
from tests.candidatures.factories import AppelFactory, complete_candidature, tiny_pdf_bytes
from tests.factories import PASSWORD, UserFactory, charge_de_mission

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_staff_ask_for_a_missing_piece_and_the_applicant_answers_with_the_file(
    live_server, page, mailoutbox, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", titre="Territoires participatifs 2021")
    applicant = UserFactory(email="mairie@arras.test")
    dossier = complete_candidature(appel=appel, createur=applicant)
    submission.submit_candidature(
        candidature=dossier, user=applicant, now=datetime(2021, 3, 1, 10, 0, tzinfo=PARIS)
    )
    mailoutbox.clear()
    before = list(dossier.pieces.values_list("nature", "nom_original"))
    deliberation = tmp_path / "deliberation.pdf"
    deliberation.write_bytes(tiny_pdf_bytes("Délibération du conseil municipal"))

    # The team, from the admin index: the dossier, its messagerie, « Demander un complément ».
    admin_sign_in(page, live_server, password=PASSWORD)
    main = page.get_by_role("main")
    main.get_by_role("row", name="Candidatures").get_by_role("link", name="Candidatures").click()
    page.get_by_role("link", name=dossier.numero).click()
    page.get_by_role("link", name="Ouvrir la messagerie").click()
    assert_accessible(page)
    page.get_by_label("Pièce demandée et explication").fill(
        "Merci de joindre la délibération\ndu conseil municipal."
    )
    page.get_by_label("À fournir avant le (heure de Paris)").fill("2099-01-31T12:00")
    page.get_by_role("button", name="Envoyer la demande de complément").click()
    expect(page.get_by_text("Demande de complément envoyée")).to_be_visible()

    # The applicant's e-mail links straight to the thread; signed out, the site asks for a
    # sign-in link and brings them back there.
    (message,) = [m for m in mailoutbox if m.to == ["mairie@arras.test"]]
    assert message.subject.startswith("Le Cerdd demande un complément au dossier")
    link = re.search(r"http://\S+/candidature/\d+/messages/#message-\d+", message.body).group(0)
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("Votre adresse e-mail").fill("mairie@arras.test")
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    sign_in = [m for m in mailoutbox if "/connexion/lien/" in m.body][-1]
    page.goto(re.search(r"https?://\S+/connexion/lien/\?\S+", sign_in.body).group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Échanger avec le Cerdd")
    expect(page.get_by_text("Merci de joindre la délibération")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Votre message").fill("Voici la délibération signée.")
    page.get_by_label("Pièce jointe (facultative)").set_input_files(deliberation)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_text("Votre complément est ajouté aux pièces du dossier")).to_be_visible()

    # The team sees the answer in the thread, the e-mail told them.
    assert any(m.to == ["charge@cerdd.test"] for m in mailoutbox)
    admin_sign_in(page, live_server, password=PASSWORD)
    page.goto(live_server.url + f"/admin/candidatures/message/dossier/{dossier.pk}/")
    expect(page.get_by_text("Voici la délibération signée.")).to_be_visible()
    expect(page.get_by_role("link", name="deliberation.pdf")).to_be_visible()
    assert sorted(dossier.pieces.values_list("nature", "nom_original")) == sorted(
        [*before, ("complement", "deliberation.pdf")]
    )


def test_applicant_and_staff_exchange_by_keyboard_alone(
    live_server, page, mailoutbox, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", titre="Territoires participatifs 2021")
    applicant = UserFactory(email="mairie@arras.test")
    dossier = complete_candidature(appel=appel, createur=applicant)
    budget = tmp_path / "budget.pdf"
    budget.write_bytes(tiny_pdf_bytes("Budget prévisionnel"))

    # The applicant, from the home page: sign-in link, the dossier, its messagerie.
    keyboard_sign_in_from_home(page, live_server, mailoutbox, "mairie@arras.test")
    # The sign-in link opens the applicant's only dossier.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Dossier de {dossier.collectivite.nom}"
    )
    tab_to(page, "Messagerie : échanger avec le Cerdd")
    enter_and_load(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Échanger avec le Cerdd")
    tab_to(page, "Votre message")
    type_lines(page, "Bonjour,\nvoici notre budget prévisionnel.")
    tab_to(page, "Pièce jointe (facultative)")
    choose_file_in_focused_field(page, budget)
    tab_to(page, "Envoyer", exact=True)
    enter_and_load(page)
    expect(page.get_by_role("status")).to_contain_text("Votre message est envoyé")
    message = page.locator("article", has_text="voici notre budget prévisionnel.")
    expect(message.get_by_role("link", name="budget.pdf")).to_be_visible()
    assert_accessible(page)

    # The team, from the admin index: the inbox, the dossier's thread, the reply.
    keyboard_admin_sign_in(page, live_server, "charge@cerdd.test", PASSWORD)
    tab_to(page, "Messages des dossiers", exact=True)
    enter_and_load(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("message du dossier")
    assert_accessible(page)
    tab_to(page, "Ouvrir le fil", exact=True)
    enter_and_load(page)
    expect(page.get_by_text("voici notre budget prévisionnel.")).to_be_visible()
    tab_to(page, "Votre message")
    type_lines(page, "Merci, bien reçu.\nNous revenons vers vous.")
    tab_to(page, "Envoyer le message", exact=True)
    enter_and_load(page)
    expect(page.get_by_text("Message envoyé aux référent·es du dossier.")).to_be_visible()
    expect(page.get_by_text("Nous revenons vers vous.")).to_be_visible()

    (reply,) = [m for m in mailoutbox if m.subject.startswith("Nouveau message du Cerdd")]
    assert reply.to == ["mairie@arras.test"]
    assert f"/candidature/{dossier.pk}/messages/#message-" in reply.body
