"""Real Chromium: a participant asks the Cerdd a question from the participant space; staff
answer it from the admin's inbox and publish it in the cycle's FAQ without the asker's
identity; a participant of another collectivité reads it in the FAQ. axe on every new page.
The same by keyboard alone: a question with its attachment, the team's answer."""

import re

import pytest
from playwright.sync_api import expect

from cerdd_ami.permissions import sync_role_permissions
from cycle.questions.models import EntreeFAQ, QuestionCerdd
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
from tests.candidatures.factories import tiny_pdf_bytes
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import PASSWORD, UserFactory, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_in_by_link(page, live_server, mailoutbox, address):
    """The participant space, signed out: the site asks for a sign-in link, and brings the
    person back to the space once they follow it."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/cycle/")
    page.get_by_label("Votre adresse e-mail").fill(address)
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    sign_in = [m for m in mailoutbox if address in m.to and "/connexion/lien/" in m.body][-1]
    page.goto(re.search(r"https?://\S+/connexion/lien/\?\S+", sign_in.body).group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Espace du cycle de qualification")


def test_a_question_answered_and_published_is_read_by_another_participant(
    live_server, page, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    cycle = CycleFactory()
    ParticipantFactory(cycle=cycle, createur=UserFactory(email="mairie@arras.test"))
    ParticipantFactory(cycle=cycle, createur=UserFactory(email="mairie@lens.test"))

    # The participant asks, from the participant space.
    sign_in_by_link(page, live_server, mailoutbox, "mairie@arras.test")
    page.get_by_role("link", name="Mes questions au Cerdd").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes questions au Cerdd")
    assert_accessible(page)
    page.get_by_label("Votre question").fill(
        "Bonjour, ici la mairie d'Arras.\nAvez-vous des exemples de questionnaires ?"
    )
    page.get_by_label("À propos de la séance (facultatif)").select_option(label="Séance 2")
    page.get_by_role("button", name="Envoyer ma question").click()
    expect(page.get_by_text("Votre question est envoyée à l'équipe du Cerdd.")).to_be_visible()
    expect(page.get_by_text("En attente de réponse.")).to_be_visible()
    assert_accessible(page)
    question = QuestionCerdd.objects.get()

    # Staff, from the admin index: the inbox, the question, the answer, the FAQ.
    admin_sign_in(page, live_server, password=PASSWORD)
    page.get_by_role("main").get_by_role("link", name="Questions au Cerdd").first.click()
    expect(page.get_by_text("1 question en attente de réponse").first).to_be_visible()
    expect(page.get_by_text("en attente depuis aujourd'hui")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("Bonjour, ici la mairie d'Arras")).click()
    assert_accessible(page)
    page.get_by_label("Votre réponse").fill("Oui : voyez la boîte à outils\nde la séance 2.")
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_text("Réponse enregistrée")).to_be_visible()
    page.get_by_label("Question telle qu'elle paraîtra dans la FAQ").fill(
        "Avez-vous des exemples de questionnaires ?"
    )
    page.get_by_role("button", name="Publier dans la FAQ du cycle").click()
    expect(page.get_by_text("La réponse est publiée dans la FAQ du cycle")).to_be_visible()
    assert_accessible(page)
    assert list(EntreeFAQ.objects.values_list("question_texte", "reponse")) == [
        (
            "Avez-vous des exemples de questionnaires ?",
            "Oui : voyez la boîte à outils\nde la séance 2.",
        )
    ]
    question.refresh_from_db()
    assert question.repondue_at is not None
    assert any(m.to == ["mairie@arras.test"] for m in mailoutbox)

    # Another collectivité of the cycle reads the FAQ, without the asker's identity.
    sign_in_by_link(page, live_server, mailoutbox, "mairie@lens.test")
    page.get_by_role("link", name="FAQ du cycle").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("FAQ du cycle")
    expect(
        page.get_by_role("heading", name="Avez-vous des exemples de questionnaires ?")
    ).to_be_visible()
    expect(page.get_by_text("de la séance 2.")).to_be_visible()
    expect(page.get_by_text("Arras")).to_have_count(0)
    assert_accessible(page)


def test_a_question_asked_and_answered_by_keyboard_alone(
    live_server, page, mailoutbox, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    cycle = CycleFactory()
    ParticipantFactory(cycle=cycle, createur=UserFactory(email="mairie@arras.test"))
    plan = tmp_path / "plan-concertation.pdf"
    plan.write_bytes(tiny_pdf_bytes("Plan de concertation"))

    # The participant, from the home page: sign-in link, the cycle's space, the question.
    keyboard_sign_in_from_home(page, live_server, mailoutbox, "mairie@arras.test")
    tab_to(page, "Espace du cycle", exact=True)
    enter_and_load(page)
    tab_to(page, "Mes questions au Cerdd", exact=True)
    enter_and_load(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes questions au Cerdd")
    tab_to(page, "Votre question")
    type_lines(page, "Bonjour,\npouvez-vous relire notre plan de concertation ?")
    tab_to(page, "Pièce jointe (facultative)")
    choose_file_in_focused_field(page, plan)
    tab_to(page, "Envoyer ma question", exact=True)
    enter_and_load(page)
    expect(page.get_by_text("Votre question est envoyée à l'équipe du Cerdd.")).to_be_visible()
    expect(page.get_by_role("link", name="plan-concertation.pdf")).to_be_visible()
    assert_accessible(page)
    question = QuestionCerdd.objects.get()
    assert (question.texte, question.nom_original) == (
        "Bonjour,\npouvez-vous relire notre plan de concertation ?",
        "plan-concertation.pdf",
    )

    # Staff, from the admin index: the inbox, the question, the answer.
    keyboard_admin_sign_in(page, live_server, "charge@cerdd.test", PASSWORD)
    tab_to(page, "Questions au Cerdd", exact=True)
    enter_and_load(page)
    expect(page.get_by_text("1 question en attente de réponse").first).to_be_visible()
    tab_to(page, "Bonjour, pouvez-vous relire notre plan de concertation ?")
    enter_and_load(page)
    tab_to(page, "Votre réponse")
    type_lines(page, "Bien sûr :\nnos remarques sont en marge.")
    tab_to(page, "Envoyer la réponse", exact=True)
    enter_and_load(page)
    expect(page.get_by_text("Réponse enregistrée")).to_be_visible()
    question.refresh_from_db()
    assert question.reponse == "Bien sûr :\nnos remarques sont en marge."

    (answered,) = [m for m in mailoutbox if m.subject == "Le Cerdd a répondu à votre question"]
    assert answered.to == ["mairie@arras.test"]
    assert f"/cycle/{question.participant_id}/questions/#question-{question.pk}" in answered.body
