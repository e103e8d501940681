"""Real Chromium, issue #16: a call of another programme asks its own six questions (long
text, several choices with « Autre », a number, a date, yes or no, a file). A collectivité
applies on the natural path from the home page; its receipt holds the answers; once the
deadline has passed a juror reads them in the admin; the staff's export has one column for
each question."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from candidatures.models import Appel, Candidature, MembreJury
from cerdd_ami.permissions import sync_role_permissions
from tests.browser.axe import assert_accessible
from tests.browser.demo import tick_every_row
from tests.candidatures.factories import AppelFactory, tiny_pdf_bytes
from tests.factories import PASSWORD, charge_de_mission, juror
from tests.utils import pdf_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

QUESTIONNAIRE = [
    {
        "titre": "Votre projet alimentaire",
        "intro": "Ce que la collectivité fait déjà et ce qu'elle veut engager.",
        "questions": [
            {
                "code": "projet",
                "libelle": "Décrivez votre projet alimentaire territorial",
                "libelle_court": "Projet alimentaire",
                "type": "texte_long",
                "options": {"max_caracteres": 3000},
            },
            {
                "code": "publics",
                "libelle": "Quels publics voulez-vous toucher ?",
                "libelle_court": "Publics",
                "type": "choix_multiple",
                "options": {"choix": ["Scolaires", "Seniors", "Familles"], "autre": True},
            },
            {
                "code": "repas",
                "libelle": "Repas servis chaque jour en restauration collective",
                "libelle_court": "Repas par jour",
                "type": "nombre",
                "options": {"min": 0},
            },
            {
                "code": "lancement",
                "libelle": "Date de lancement envisagée",
                "libelle_court": "Lancement",
                "type": "date",
            },
            {
                "code": "pat",
                "libelle": "La collectivité a-t-elle déjà un projet alimentaire territorial ?",
                "libelle_court": "PAT existant",
                "type": "oui_non",
            },
        ],
    },
    {
        "titre": "Diagnostic",
        "intro": "",
        "questions": [
            {
                "code": "diagnostic",
                "libelle": "Diagnostic alimentaire du territoire",
                "libelle_court": "Diagnostic",
                "aide": "PDF, 5 Mo au plus.",
                "type": "fichier",
                "options": {"formats": ["pdf"], "plusieurs": False},
            },
        ],
    },
]
PROJET = "Une légumerie intercommunale pour les cantines, avec les maraîchers du bassin minier."


@pytest.fixture
def appel():
    sync_role_permissions()
    return AppelFactory(
        slug="alimentation-2027",
        titre="Alimentation durable en Hauts-de-France — 2027",
        prefixe_numero="ALIM-2027",
        questionnaire=QUESTIONNAIRE,
    )


def sign_in_link(mailoutbox, address):
    message = [m for m in mailoutbox if m.to == [address]][-1]
    return re.search(r"https?://\S+/connexion/lien/\?\S+", message.body).group(0)


def admin_log_in(page, live_server, email):
    page.context.clear_cookies()
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(live_server.url + "/admin/")


def apply(page, live_server, mailoutbox, diagnostic):
    """From the home page to « Déposer la candidature », as a first-time applicant."""
    page.goto(live_server.url + "/")
    expect(page.get_by_role("main").get_by_role("heading", level=2)).to_have_text(
        "Alimentation durable en Hauts-de-France — 2027"
    )
    page.get_by_role(
        "link", name="Candidater à « Alimentation durable en Hauts-de-France — 2027 »"
    ).click()
    page.get_by_label("Votre adresse e-mail").fill("dgs@loos-en-gohelle.test")
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto(sign_in_link(mailoutbox, "dgs@loos-en-gohelle.test"))
    page.get_by_label("Nom, code INSEE ou code postal").fill("Loos-en-Gohelle")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name=re.compile("^Loos-en-Gohelle")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Collectivité et coordonnées")
    page.get_by_label("Adresse postale").fill("Place de la République")
    page.get_by_label("Code postal").fill("62750")
    page.get_by_label("Ville").fill("Loos-en-Gohelle")
    page.get_by_label("Téléphone").fill("03 21 69 88 77")
    page.get_by_label("E-mail de la collectivité").fill("mairie@loos-en-gohelle.test")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Référent·es")
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

    expect(page.get_by_role("heading", level=1)).to_have_text("Votre projet alimentaire")
    assert_accessible(page)
    page.get_by_label("Décrivez votre projet alimentaire territorial").fill(PROJET)
    publics = page.get_by_role("group", name=re.compile("Quels publics voulez-vous toucher"))
    publics.get_by_label("Scolaires").check()
    publics.get_by_label("Autre", exact=True).check()
    page.get_by_label("Autre réponse à « Publics »").fill("Épiceries solidaires")
    page.get_by_label("Repas servis chaque jour en restauration collective").fill("1250,5")
    page.get_by_label("Date de lancement envisagée").fill("2027-09-01")
    pat = page.get_by_role("group", name=re.compile("projet alimentaire territorial \\?"))
    pat.get_by_label("Oui", exact=True).check()
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Diagnostic")
    assert_accessible(page)
    page.get_by_label("Diagnostic alimentaire du territoire").set_input_files(diagnostic)
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Engagements et dépôt")
    assert_accessible(page)
    review = page.locator(".recapitulatif")
    expect(review).to_contain_text(PROJET)
    expect(review).to_contain_text("Scolaires, Autre : Épiceries solidaires")
    expect(review).to_contain_text("diagnostic-loos.pdf")
    page.get_by_label(re.compile("binôme élu·e / technicien·ne")).check()
    page.get_by_label(re.compile("expérimenter sur son territoire")).check()
    page.get_by_label(re.compile("traite les données personnelles")).check()
    page.get_by_role("button", name="Déposer la candidature").click()
    expect(page.locator(".etat-dossier")).to_contain_text("Déposée · n° ALIM-2027-001")


def test_collectivite_answers_another_programmes_questions_read_by_jury_and_export(
    live_server, page, mailoutbox, settings, tmp_path, appel
):
    settings.SITE_URL = live_server.url
    diagnostic = tmp_path / "diagnostic-loos.pdf"
    diagnostic.write_bytes(tiny_pdf_bytes("Diagnostic alimentaire de Loos-en-Gohelle"))

    apply(page, live_server, mailoutbox, diagnostic)

    # The receipt holds every answer, in French.
    receipt = [m for m in mailoutbox if "Accusé de réception" in m.subject][-1]
    text = pdf_text(receipt.attachments[0][1])
    for expected in [
        "ALIM-2027-001",
        PROJET,
        "Scolaires, Autre : Épiceries solidaires",
        "1250,5",
        "1er septembre 2027",
        "Oui",
        "diagnostic-loos.pdf",
    ]:
        assert expected in text

    # The deadline passes; a juror of the call reads the answers in the admin.
    Appel.objects.filter(pk=appel.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    jure = juror(email="jury@cerdd.test")
    MembreJury.objects.create(appel=appel, user=jure)
    admin_log_in(page, live_server, "jury@cerdd.test")
    page.get_by_role("main").get_by_role("link", name="Dossiers à évaluer").click()
    page.get_by_role("link", name="ALIM-2027-001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Dossier ALIM-2027-001 — Loos-en-Gohelle"
    )
    answers = page.locator("dl.reponses-questionnaire")
    expect(answers).to_have_count(2)
    expect(answers.first).to_contain_text(PROJET)
    expect(answers.first).to_contain_text("Scolaires, Autre : Épiceries solidaires")
    expect(answers.first).to_contain_text("1250,5")
    expect(answers.first).to_contain_text("1er septembre 2027")
    expect(answers.nth(1).get_by_role("link", name="diagnostic-loos.pdf")).to_be_visible()
    assert_accessible(page)

    # Staff export the dossiers: one column per question, after the référent·es.
    charge_de_mission(email="charge@cerdd.test")
    admin_log_in(page, live_server, "charge@cerdd.test")
    page.locator("#candidatures-candidature").get_by_role("link", name="Candidatures").click()
    tick_every_row(page)
    page.get_by_role("combobox", name="Action").select_option(
        label="Exporter la sélection (CSV, Excel)"
    )
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Exécuter").click()
    body = Path(download_info.value.path()).read_bytes().decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(body), delimiter=";"))
    record = dict(zip(header, row, strict=True))
    questions = ["Projet alimentaire", "Publics", "Repas par jour", "Lancement"]
    questions += ["PAT existant", "Diagnostic"]
    start = header.index("Projet alimentaire")
    assert header[start : start + 6] == questions
    piece = Candidature.objects.get().pieces.get()
    assert [record[column] for column in questions] == [
        PROJET,
        "Scolaires, Autre : Épiceries solidaires",
        "1250,5",
        "1er septembre 2027",
        "Oui",
        f"diagnostic-loos.pdf (SHA-256 {piece.sha256})",
    ]
