"""Real Chromium: the chargé·e de mission prepares next year's edition from the 2021 call, in
the admin, and lands on the new call's page with its dates moved, unpublished."""

import zoneinfo
from datetime import date, datetime

import pytest
from playwright.sync_api import expect

from candidatures.appels.seed import ensure_appel_2021
from candidatures.decisions.letter_templates import ensure_modeles_courrier
from candidatures.models import Appel, ModeleCourrier
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Seance
from cycle.seances.services import ensure_cycle
from tests.browser.axe import assert_accessible
from tests.factories import PASSWORD, charge_de_mission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TITRE_2022 = "Vers des territoires participatifs en Hauts-de-France — 2022"


def test_charge_prepares_the_next_edition_from_the_2021_call(live_server, page):
    sync_role_permissions()
    charge_de_mission(email="charge@cerdd.test")
    appel = ensure_appel_2021()
    ensure_modeles_courrier(appel)
    ensure_cycle(appel)

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_text("Bienvenue,")).to_be_visible()

    page.get_by_role("main").get_by_role("link", name="Appels", exact=True).click()
    page.get_by_role("link", name=appel.titre).click()
    page.get_by_role("link", name="Préparer l'édition suivante").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Préparer l'édition suivante")
    expect(page.get_by_label("Titre de la nouvelle édition")).to_have_value(TITRE_2022)
    expect(page.get_by_label("Identifiant court")).to_have_value("2022")
    table = page.get_by_role("table", name="Les dates, décalées de 12 mois")
    expect(table.get_by_role("row", name="Date limite de dépôt")).to_contain_text(
        "12 mars 2022 à 23 h 59 min 59 s"
    )
    assert_accessible(page)
    page.get_by_role("button", name="Créer l'édition suivante").click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        f"L'appel « {TITRE_2022} » est prêt"
    )
    expect(page.locator("#id_titre")).to_have_value(TITRE_2022)
    expect(page.locator("#id_opens_at_0")).to_have_value("10/12/2021")
    expect(page.locator("#id_closes_at_0")).to_have_value("12/03/2022")
    expect(page.locator("#id_closes_at_1")).to_have_value("23:59:59")
    expect(page.locator("#id_announcement_at_0")).to_have_value("15/04/2022")
    expect(page.get_by_label("Première journée du cycle")).to_have_value("18/05/2022")
    expect(page.get_by_label("Publié sur le site")).not_to_be_checked()

    new = Appel.objects.get(slug="2022")
    assert (new.est_publie, new.closes_at) == (
        False,
        datetime(2022, 3, 12, 23, 59, 59, tzinfo=PARIS),
    )
    assert ModeleCourrier.objects.filter(appel=new).count() == 3
    assert list(
        Seance.objects.filter(cycle__appel=new).order_by("numero").values_list("date", flat=True)
    )[:2] == [date(2022, 5, 18), date(2022, 7, 6)]
    # Not on the public site until staff publish it.
    assert page.request.get(live_server.url + "/appel/2022/").status == 404
