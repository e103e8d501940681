"""Real Chromium: a collectivité applies end to end, and every page passes axe-core (RGAA).

Each journey starts from the home page with nothing prepared but the call (the world), and
clicks what a first-time user clicks: the sign-in link is read from the outbox, the letter is
chosen on its question's field, the boxes of the last step are ticked, then « Déposer la
candidature », no draft saved on the side.
"""

import re

import pytest
from playwright.sync_api import expect

from candidatures.models import Candidature
from tests.browser.axe import assert_accessible
from tests.browser.keyboard import tab_to
from tests.candidatures.factories import AppelFactory, tiny_pdf_bytes
from tests.factories import UserFactory
from tests.utils import pdf_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_in_link(mailoutbox, address):
    message = [m for m in mailoutbox if m.to == [address]][-1]
    return re.search(r"https?://\S+/connexion/lien/\?\S+", message.body).group(0)


# The home page's link to the call's form: « Candidater », and the call's title for screen
# readers (templates/candidatures/accueil.html).
CANDIDATER = "Candidater à « Vers des territoires participatifs — 2027 »"


@pytest.fixture
def appel():
    return AppelFactory(
        slug="2027", titre="Vers des territoires participatifs — 2027", prefixe_numero="AMI-2027"
    )


def test_collectivite_applies_end_to_end(live_server, page, mailoutbox, settings, tmp_path, appel):
    settings.SITE_URL = live_server.url
    letter = tmp_path / "lettre-motivation.pdf"
    letter.write_bytes(tiny_pdf_bytes("Lettre de motivation de Loos-en-Gohelle"))

    page.goto(live_server.url + "/")
    assert_accessible(page)
    page.get_by_role("link", name=CANDIDATER).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion à l'espace de candidature")
    assert_accessible(page)
    page.get_by_label("Votre adresse e-mail").fill("dgs@loos-en-gohelle.test")
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)

    page.goto(sign_in_link(mailoutbox, "dgs@loos-en-gohelle.test"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Quelle collectivité candidate ?")
    page.get_by_label("Nom, code INSEE ou code postal").fill("Loos-en-Gohelle")
    page.get_by_role("button", name="Rechercher").click()
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^Loos-en-Gohelle")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    assert_accessible(page)
    page.get_by_label("Adresse postale").fill("Place de la République")
    page.get_by_label("Code postal").fill("62750")
    page.get_by_label("Ville").fill("Loos-en-Gohelle")
    page.get_by_label("Téléphone").fill("03 21 69 88 77")
    page.get_by_label("E-mail de la collectivité").fill("mairie@loos-en-gohelle.test")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Référent·es")
    assert_accessible(page)
    politique = page.get_by_role("group", name="Référent·e politique (élu·e)")
    politique.get_by_label("Nom et prénom").fill("Geoffrey Mathon")
    politique.get_by_label("Fonction").fill("Maire")
    politique.get_by_label("E-mail").fill("maire@loos-en-gohelle.test")
    politique.get_by_label("Téléphone").fill("03 21 69 88 70")
    technique = page.get_by_role("group", name="Référent·e technique")
    technique.get_by_label("Nom et prénom").fill("Julie Vasseur")
    technique.get_by_label("Fonction").fill("Chargée de mission transition")
    technique.get_by_label("E-mail").fill("dgs@loos-en-gohelle.test")
    technique.get_by_label("Téléphone").fill("03 21 69 88 71")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Motivations et projet")
    assert_accessible(page)
    page.get_by_label("Motivations de la collectivité").fill(
        "Ville pilote du développement durable, nous voulons partager."
    )
    page.get_by_label("Actions déjà réalisées ou prévues").fill(
        "Fabrique citoyenne, budget participatif."
    )
    page.get_by_label("Pistes de travail envisagées").fill("Une convention citoyenne locale.")
    page.get_by_label("Principaux besoins identifiés").fill("Toucher les publics éloignés.")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Pièces jointes")
    assert_accessible(page)
    page.get_by_label("Lettre de motivation").set_input_files(letter)
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Engagements et dépôt")
    assert_accessible(page)
    expect(page.locator(".recapitulatif")).to_contain_text("lettre-motivation.pdf")
    page.get_by_label(re.compile("binôme élu·e / technicien·ne")).check()
    page.get_by_label(re.compile("expérimenter sur son territoire")).check()
    page.get_by_label(re.compile("traite les données personnelles")).check()
    page.get_by_role("button", name="Déposer la candidature").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dossier de Loos-en-Gohelle")
    expect(page.locator(".etat-dossier")).to_contain_text("Déposée · n° AMI-2027-001")
    # The receipt's task ran on commit (immediate backend), before the page was drawn.
    expect(
        page.get_by_text(
            "Votre candidature est déposée sous le numéro AMI-2027-001. "
            "Un accusé de réception a été envoyé aux référent·es."
        )
    ).to_be_visible()
    expect(
        page.get_by_role("link", name=re.compile(r"^Accusé de réception du dépôt n° 1 "))
    ).to_be_visible()
    expect(page.get_by_text("en préparation")).to_have_count(0)
    assert_accessible(page)

    candidature = Candidature.objects.get()
    assert (candidature.statut, candidature.numero) == ("deposee", "AMI-2027-001")
    receipt = [m for m in mailoutbox if "Accusé de réception" in m.subject][-1]
    assert sorted(receipt.to) == ["dgs@loos-en-gohelle.test", "maire@loos-en-gohelle.test"]
    pdf = receipt.attachments[0]
    text = pdf_text(pdf[1])
    assert "AMI-2027-001" in text
    assert "Loos-en-Gohelle" in text
    assert "Fabrique citoyenne, budget participatif." in text
    assert "lettre-motivation.pdf" in text


def watched_page(context):
    """A page of another browser context, failing like the ``page`` fixture on a console
    error, a JavaScript error or a 5xx."""
    problems: list[str] = []
    other = context.new_page()
    other.on(
        "console",
        lambda message: message.type == "error" and problems.append(f"console: {message.text}"),
    )
    other.on("pageerror", lambda error: problems.append(f"JavaScript: {error}"))
    other.on(
        "response",
        lambda response: response.status >= 500 and problems.append(f"HTTP {response.status}"),
    )
    return other, problems


def ask_for_a_link(page, address):
    page.get_by_label("Votre adresse e-mail").fill(address)
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(
        "Connexion à l'espace de candidature"
    )


def test_applicant_comes_back_the_next_day_to_their_dossier(
    live_server, page, new_context, mailoutbox, settings, appel
):
    settings.SITE_URL = live_server.url
    # Day one: the dossier is started, step 1 saved, and the browser closed.
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=CANDIDATER).click()
    ask_for_a_link(page, "dgs@arras.test")
    page.goto(sign_in_link(mailoutbox, "dgs@arras.test"))
    page.get_by_label("Nom, code INSEE ou code postal").fill("62041")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name=re.compile("^Arras")).click()
    page.get_by_label("Adresse postale").fill("Place Guy Mollet")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Référent·es")
    page.context.close()

    # The next day, another browser: from the home page to the dossier.
    tomorrow, problems = watched_page(new_context())
    tomorrow.goto(live_server.url + "/")
    tomorrow.get_by_role("link", name="Accéder à mon dossier").click()
    expect(tomorrow.get_by_role("heading", level=1)).to_have_text(
        "Connexion à l'espace de candidature"
    )
    ask_for_a_link(tomorrow, "dgs@arras.test")
    tomorrow.goto(sign_in_link(mailoutbox, "dgs@arras.test"))

    expect(tomorrow.get_by_role("heading", level=1)).to_have_text("Dossier de Arras")
    assert_accessible(tomorrow)
    tomorrow.get_by_role("link", name="Compléter le dossier").click()
    expect(tomorrow.get_by_label("Adresse postale")).to_have_value("Place Guy Mollet")
    assert problems == []


def test_typing_left_unsaved_is_kept_when_the_applicant_leaves_then_stays(
    live_server, page, mailoutbox, settings, appel
):
    settings.SITE_URL = live_server.url
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=CANDIDATER).click()
    ask_for_a_link(page, "dgs@arras.test")
    page.goto(sign_in_link(mailoutbox, "dgs@arras.test"))
    page.get_by_label("Nom, code INSEE ou code postal").fill("62041")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name=re.compile("^Arras")).click()
    page.get_by_label("Adresse postale").fill("Place Guy Mollet")
    dialogs = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.get_by_role("link", name=re.compile("Motivations et projet")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    assert dialogs == ["beforeunload"]
    expect(page.get_by_label("Adresse postale")).to_have_value("Place Guy Mollet")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.get_by_text("Brouillon enregistré.")).to_be_visible()
    # Saved: leaving asks nothing any more.
    page.get_by_role("link", name=re.compile("Motivations et projet")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Motivations et projet")
    assert dialogs == ["beforeunload"]
    assert Candidature.objects.get().adresse == "Place Guy Mollet"


@pytest.mark.console_allow("the server responded with a status of 404")
def test_another_applicant_gets_404_on_the_dossier(live_server, page, appel):
    from tests.candidatures.factories import complete_candidature

    dossier = complete_candidature(appel=appel, createur=UserFactory(email="a@commune.test"))
    intruder = UserFactory(email="b@autre.test")
    page.context.add_cookies([])
    from django.test import Client

    client = Client()
    client.force_login(intruder)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )

    response = page.goto(f"{live_server.url}/candidature/{dossier.pk}/")
    piece = dossier.pieces.get()
    file_response = page.request.get(
        f"{live_server.url}/candidature/{dossier.pk}/pieces/{piece.pk}/"
    )

    assert (response.status, file_response.status) == (404, 404)


def test_collectivite_starts_its_dossier_with_the_keyboard_alone(
    live_server, page, mailoutbox, settings, appel
):
    settings.SITE_URL = live_server.url
    page.goto(live_server.url + "/")

    tab_to(page, "Candidater")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion à l'espace de candidature")
    tab_to(page, "Votre adresse e-mail")
    page.keyboard.type("clavier@arras.test")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).not_to_have_text(
        "Connexion à l'espace de candidature"
    )
    page.goto(sign_in_link(mailoutbox, "clavier@arras.test"))
    tab_to(page, "Nom, code INSEE ou code postal")
    page.keyboard.type("62041")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=re.compile("^Arras"))).to_be_visible()
    page.wait_for_load_state()
    tab_to(page, "commune, INSEE 62041")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    tab_to(page, "Adresse postale")
    page.keyboard.type("Place Guy Mollet")
    tab_to(page, "Enregistrer et continuer")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Référent·es")
    candidature = Candidature.objects.get()
    assert (candidature.collectivite.insee, candidature.adresse) == ("62041", "Place Guy Mollet")


def test_typing_before_the_page_finished_loading_still_counts_as_unsaved(
    live_server, page, mailoutbox, settings, appel
):
    """The guard compares with what the server sent: text typed while its script was still
    on its way (a slow connection) is not taken for the saved state."""
    settings.SITE_URL = live_server.url
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=CANDIDATER).click()
    ask_for_a_link(page, "dgs@arras.test")
    page.goto(sign_in_link(mailoutbox, "dgs@arras.test"))
    page.get_by_label("Nom, code INSEE ou code postal").fill("62041")
    page.get_by_role("button", name="Rechercher").click()
    held = []

    def hold(route):
        held.append(route)

    page.route("**/js/brouillon-non-enregistre.*", hold)
    page.get_by_role("button", name=re.compile("^Arras")).click()
    page.get_by_label("Adresse postale").fill("Place Guy Mollet")
    assert len(held) == 1  # the guard's script has not run yet
    held[0].continue_()
    page.wait_for_load_state("load")
    dialogs = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.get_by_role("link", name=re.compile("Motivations et projet")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    assert dialogs == ["beforeunload"]
    expect(page.get_by_label("Adresse postale")).to_have_value("Place Guy Mollet")
