"""Real Chromium: the chargé·e de mission records a decision in the admin and publishes it;
the collectivité then reads it on its dossier page and downloads the letter. The publication
programmed for the announcement datetime, run by the worker."""

import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from candidatures.decisions import services as decisions_services
from candidatures.dossiers import submission
from candidatures.models import Appel, Decision
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.models import Tache
from cerdd_ami.permissions import sync_role_permissions
from tests.browser.axe import assert_accessible
from tests.browser.demo import tick_every_row
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.conftest import run_worker
from tests.factories import PASSWORD, UserFactory, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def open_list(page, name):
    """A list of the admin index, from the breadcrumbs' « Accueil » as a user goes back."""
    home = page.get_by_role("navigation", name="Fil d'Ariane").get_by_role("link", name="Accueil")
    if home.count():
        home.click()
    # A model's row, not the app's caption of the same name, nor « Rappels au jury » for « Appels ».
    page.get_by_role("main").get_by_role("row").get_by_role("link", name=name, exact=True).click()


def run_action(page, label):
    """Tick every row of an admin list and run the action ``label`` on them."""
    tick_every_row(page)
    page.get_by_role("combobox", name="Action").select_option(label=label)
    page.get_by_role("button", name="Exécuter").click()


def test_charge_decides_publishes_and_the_collectivite_downloads_its_letter(
    live_server, page, mailoutbox, settings
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

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_text("Bienvenue,")).to_be_visible()

    # A bulk decision from the submitted dossiers, the capacity in view.
    open_list(page, "Candidatures")
    run_action(page, "Décider : retenue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Décider : retenue")
    expect(page.locator(".capacite-texte")).to_have_text(
        "12 places — 0 retenue — liste d'attente : vide"
    )
    assert_accessible(page)
    page.get_by_label("Motivation").fill("Une dynamique participative déjà bien engagée.")
    page.get_by_role("button", name="Enregistrer la décision").click()
    expect(page.get_by_text("Décision « Retenue » enregistrée pour 1 dossier.")).to_be_visible()

    open_list(page, "Décisions")
    expect(page.locator(".capacite-texte")).to_have_text(
        "12 places — 1 retenue — liste d'attente : vide"
    )
    assert_accessible(page)
    assert Decision.objects.get().published_at is None

    # Publication, from the calls' list.
    open_list(page, "Appels")
    run_action(page, "Publier les décisions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Publier les décisions")
    assert_accessible(page)
    page.get_by_role("button", name="Publier les décisions").click()
    expect(
        page.get_by_text("Territoires participatifs 2021 : décisions publiées : 1.")
    ).to_be_visible()
    # The letters' task ran once the publication was committed (the tests' immediate queue):
    # both référent·es, and the person who filled the dossier in.
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        [dossier.ref_pol_email, dossier.ref_tech_email, applicant.email]
    )

    # The collectivité's side, in a fresh session.
    page.context.clear_cookies()
    client = Client()
    client.force_login(applicant)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/candidature/{dossier.pk}/")
    decision = page.get_by_role("region", name="Décision")
    expect(decision).to_contain_text("Retenue")
    expect(decision).to_contain_text("Une dynamique participative déjà bien engagée.")
    assert_accessible(page)
    with page.expect_download() as download_info:
        decision.get_by_role("link", name="Télécharger le courrier (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"arras-{dossier.numero.lower()}.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")


def test_demo_charge_records_a_decision_then_changes_its_motivation(live_server, page, demo):
    """The natural path of defect 2 over the seeded demo: a dossier's « Décider », then the
    recorded decision opened again, its motivation changed, « Enregistrer »: saved."""
    recent = Appel.objects.scoring_open().get()
    dossier = recent.candidatures.deposees().order_by("numero").first()

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill("demo-cerdd")
    page.get_by_role("button", name="Connexion").click()
    # The « Candidatures » line of the admin index (not its section's heading).
    page.locator("#candidatures-candidature").get_by_role("link", name="Candidatures").click()
    page.locator("#result_list").get_by_role("link", name=dossier.numero).click()
    page.get_by_role("link", name="Décider").click()
    page.get_by_label("Retenue", exact=True).check()
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("a été ajouté avec succès")

    page.locator("#result_list").get_by_role("link", name=dossier.numero).click()
    page.get_by_label("Motivation").fill("Une dynamique participative déjà bien engagée.")
    page.get_by_role("button", name="Enregistrer", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("a été modifié avec succès")
    expect(page.locator("#result_list")).to_contain_text(
        "Une dynamique participative déjà bien engagée."
    )
    decision = Decision.objects.get(candidature=dossier)
    assert (decision.issue, decision.motivation, decision.published_at) == (
        "retenue",
        "Une dynamique participative déjà bien engagée.",
        None,
    )
    assert decision.history.count() == 2


def test_charge_programmes_the_publication_and_the_worker_sends_the_letters_once(
    live_server, page, mailoutbox, settings, database_queue
):
    """« Programmer la publication » from the calls' list; at the announcement datetime the
    worker (run here, the clock moved past it) publishes, and each letter leaves once."""
    settings.SITE_URL = live_server.url
    sync_role_permissions()
    staff = charge_de_mission(email="charge@cerdd.test")
    announcement = timezone.now().replace(microsecond=0) + timedelta(days=1)
    appel = AppelFactory(
        edition_2021=True,
        slug="2021",
        titre="Territoires participatifs 2021",
        announcement_at=announcement,
    )
    applicant = UserFactory(email="mairie@arras.test")
    dossier = complete_candidature(appel=appel, createur=applicant)
    submission.submit_candidature(
        candidature=dossier, user=applicant, now=datetime(2021, 3, 1, 10, 0, tzinfo=PARIS)
    )
    decisions_services.decide(candidature=dossier, issue="retenue", motivation="", staff_user=staff)
    mailoutbox.clear()
    Tache.objects.all().delete()  # the receipt's task, already run

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    open_list(page, "Appels")
    run_action(page, "Programmer la publication")
    expect(page.get_by_role("heading", level=1)).to_have_text("Programmer la publication")
    when = format_datetime_fr(announcement)
    expect(
        page.get_by_text(f"Publication programmée pour le {when} (heure de Paris).")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Programmer la publication").click()
    expect(
        page.get_by_text(f"Territoires participatifs 2021 : publication programmée le {when}")
    ).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text(f"Publication programmée le {when}")
    assert mailoutbox == []

    run_worker()  # nobody signed in, before the time: nothing
    assert (Decision.objects.get().published_at, mailoutbox) == (None, [])
    with time_machine.travel(announcement + timedelta(seconds=30), tick=False):
        run_worker()
        run_worker()

    assert Decision.objects.get().published_at == announcement + timedelta(seconds=30)
    assert sorted(message.to[0] for message in mailoutbox) == sorted(dossier.referent_emails())
    page.reload()
    expect(page.locator("#result_list")).to_contain_text("Publiées le")
