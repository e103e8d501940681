"""Real Chromium: a juror logs into the admin, reads an assigned dossier and submits an
évaluation by clicking the score levels' labels."""

import re
import zoneinfo
from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from candidatures.dossiers import submission
from candidatures.jury import services as jury_services
from candidatures.models import Affectation, Appel, Evaluation, MembreJury, NiveauCritere
from cerdd_ami.permissions import sync_role_permissions
from tests.browser.axe import assert_accessible
from tests.candidatures.factories import AppelFactory, CritereFactory, complete_candidature
from tests.factories import PASSWORD, UserFactory, juror

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

GRILLE = [
    (
        "Collectivité engagée dans une dynamique de transition",
        [
            "Aucune démarche de transition engagée.",
            "Une démarche isolée ou ponctuelle.",
            "Une démarche structurée.",
            "Plusieurs démarches engagées et cohérentes.",
            "Dynamique de transition structurée et portée politiquement.",
        ],
    ),
    (
        "Motivation, détermination et humilité",
        [
            "Motivation absente ou formelle.",
            "Motivation peu argumentée.",
            "Motivation claire, attentes générales.",
            "Motivation argumentée, attentes précises.",
            "Motivation forte, posture d'apprentissage et de partage affirmée.",
        ],
    ),
]
SCORES = [3, 4]


@pytest.fixture
def jury_setup():
    sync_role_permissions()
    appel = AppelFactory(edition_2021=True, slug="2021", mode_jury=Appel.ModeJury.AFFECTATION)
    for ordre, (libelle, niveaux) in enumerate(GRILLE, start=1):
        critere = CritereFactory(appel=appel, ordre=ordre, libelle=libelle, note_max=4)
        for note, text in enumerate(niveaux):
            NiveauCritere.objects.create(critere=critere, note=note, description=text)
    inside_window = datetime(2021, 3, 1, 10, 0, tzinfo=PARIS)
    dossiers = []
    for _ in range(2):
        dossier = complete_candidature(appel=appel)
        submission.submit_candidature(candidature=dossier, user=UserFactory(), now=inside_window)
        dossier.refresh_from_db()
        dossiers.append(dossier)
    jury1 = juror(email="jury1@cerdd.test", first_name="Camille", last_name="Lefebvre")
    MembreJury.objects.create(appel=appel, user=jury1)
    # Only the first dossier is assigned to jury1: the second must not be offered.
    Affectation.objects.create(candidature=dossiers[0], jure=jury1)
    # A colleague already scored it 2 and 2 (10/20): the ranking row reads 1 évaluation, 10,00.
    jury2 = juror(email="jury2@cerdd.test", first_name="Dominique", last_name="Martin")
    MembreJury.objects.create(appel=appel, user=jury2)
    Affectation.objects.create(candidature=dossiers[0], jure=jury2)
    jury_services.save_evaluation(
        candidature=dossiers[0],
        jure=jury2,
        notes=dict.fromkeys(appel.criteres.all(), (2, "")),
        recommandation="attente",
        submit=True,
    )
    charge = UserFactory(email="charge@cerdd.test", is_staff=True)
    charge.groups.add(Group.objects.get(name="Chargé·e de mission"))
    return appel, dossiers, jury1


def log_in(page, live_server, email):
    page.context.clear_cookies()
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(live_server.url + "/admin/")


def open_call_page(page, live_server, appel, link):
    """From the admin index, as staff find it: « Appels », the call, then ``link``."""
    page.goto(live_server.url + "/admin/")
    page.locator("#candidatures-appel").get_by_role("link", name="Appels").click()
    page.locator("#result_list").get_by_role("link", name=appel.titre).click()
    page.locator(".object-tools").get_by_role("link", name=link, exact=True).click()


def ranking_row(page, live_server, appel, numero) -> tuple[str, str]:
    """(« Éval. », « Moyenne pondérée /20 ») of the dossier's row in the ranking table."""
    open_call_page(page, live_server, appel, "Classement")
    row = page.locator(
        "#tableau-classement tbody tr", has=page.locator("th.dossier", has_text=numero)
    )
    expect(row).to_have_count(1)
    # Cells: rang, rang (z), [dossier is a th], collectivité, éval., moyenne…
    cells = row.locator("td")
    return cells.nth(3).inner_text().strip(), cells.nth(4).inner_text().strip()


def test_juror_scores_an_assigned_dossier(live_server, page, jury_setup):
    _appel, (assigned, other), jury1 = jury_setup

    # The chargé·e de mission reads the row before: one évaluation, 10/20.
    log_in(page, live_server, "charge@cerdd.test")
    open_call_page(page, live_server, _appel, "Suivi du jury")
    expect(page.get_by_text("1 sur 2 attendues")).to_be_visible()
    assert ranking_row(page, live_server, _appel, assigned.numero) == ("1", "10,00")
    page.context.clear_cookies()

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("jury1@cerdd.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(live_server.url + "/admin/")

    page.get_by_role("main").get_by_role("link", name="Dossiers à évaluer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dossiers à évaluer")
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(assigned.numero)
    expect(results.first).to_contain_text("Non commencée")
    expect(page.locator("#result_list")).not_to_contain_text(other.numero)

    page.get_by_role("link", name=assigned.numero).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Dossier {assigned.numero} — {assigned.collectivite.nom}"
    )
    expect(page.get_by_role("link", name="lettre-de-motivation.pdf")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("accusé de réception"))).to_be_visible()
    page.get_by_role("link", name="Évaluer ce dossier").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Évaluer le dossier {assigned.numero} — {assigned.collectivite.nom}"
    )
    assert_accessible(page)
    for ordre, ((libelle, niveaux), score) in enumerate(zip(GRILLE, SCORES, strict=True), 1):
        group = page.get_by_role("group", name=re.compile(rf"^{ordre}\. {re.escape(libelle)}"))
        group.get_by_text(f"{score} — {niveaux[score]}", exact=True).click()
        group.get_by_label(re.compile("^Commentaire sur")).fill(f"Remarque sur le critère {ordre}.")
    page.get_by_text("Retenir", exact=True).click()
    page.get_by_label("Retour pour la collectivité").fill("Un dossier convaincant.")
    page.get_by_role("button", name="Soumettre l'évaluation").click()

    expect(page.locator(".messagelist")).to_contain_text("Votre évaluation est soumise.")
    expect(page.locator(".jury-etat")).to_contain_text("Soumise le")

    evaluation = Evaluation.objects.get(candidature=assigned, jure=jury1)
    assert evaluation.statut == Evaluation.Statut.SOUMISE
    assert evaluation.submitted_at is not None
    assert evaluation.recommandation == "retenir"
    assert evaluation.retour_collectivite == "Un dossier convaincant."
    assert [
        (note.critere.ordre, note.valeur, note.commentaire)
        for note in evaluation.notes.select_related("critere").order_by("critere__ordre")
    ] == [(1, 3, "Remarque sur le critère 1."), (2, 4, "Remarque sur le critère 2.")]
    assert not Evaluation.objects.filter(candidature=other).exists()

    page.get_by_role("navigation", name="Fil d'Ariane").get_by_role(
        "link", name="Dossiers à évaluer"
    ).click()
    expect(page.locator("#result_list tbody tr").first).to_contain_text("Soumise")

    # The chargé·e de mission sees the submission in the progress matrix and the ranking:
    # two évaluations now, (10 + 17,5) / 2 = 13,75 (jury1 gave 3 and 4 out of 4: 17,5/20).
    log_in(page, live_server, "charge@cerdd.test")
    open_call_page(page, live_server, _appel, "Suivi du jury")
    expect(page.get_by_text("2 sur 2 attendues")).to_be_visible()
    assert ranking_row(page, live_server, _appel, assigned.numero) == ("2", "13,75")
    open_call_page(page, live_server, _appel, "Classement")
    ranked = page.locator("#tableau-classement th.dossier", has_text=assigned.numero)
    expect(ranked).to_be_visible()
    expect(page.locator("#tableau-classement th.dossier", has_text=other.numero)).to_be_visible()


def test_demo_juror_scores_from_the_admin_index_and_staff_read_the_ranking(live_server, page, demo):
    """The natural path over the seeded demo: jury1 opens « Dossiers à évaluer » (the call
    being scored, not 2021), scores a dossier not started yet; the chargé·e finds the ranking
    from « Appels » and reads what decides without scrolling sideways at 1366 px."""
    recent = Appel.objects.scoring_open().get()
    page.set_viewport_size({"width": 1366, "height": 768})

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("jury1@cerdd.test")
    page.get_by_label("Mot de passe").fill("demo-cerdd")
    page.get_by_role("button", name="Connexion").click()
    page.get_by_role("main").get_by_role("link", name="Dossiers à évaluer").click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(15)
    expect(page.locator("#result_list")).not_to_contain_text("AMI-2021-")
    page.get_by_role("link", name="Non commencée").click()
    expect(rows).to_have_count(9)
    numero = rows.first.locator("th a").inner_text()
    rows.first.locator("th a").click()
    page.get_by_role("link", name="Évaluer ce dossier").click()
    for ordre in range(1, recent.criteres.count() + 1):
        group = page.get_by_role("group", name=re.compile(rf"^{ordre}\. "))
        group.get_by_role("radio", name=re.compile(r"^3 — ")).check()
    page.get_by_text("Retenir", exact=True).click()
    page.get_by_label("Retour pour la collectivité").fill("Une démarche à partager.")
    page.get_by_role("button", name="Soumettre l'évaluation").click()

    expect(page.locator(".messagelist")).to_contain_text("Votre évaluation est soumise.")
    evaluation = Evaluation.objects.get(candidature__numero=numero, jure__email="jury1@cerdd.test")
    assert (evaluation.statut, evaluation.recommandation, evaluation.retour_collectivite) == (
        Evaluation.Statut.SOUMISE,
        "retenir",
        "Une démarche à partager.",
    )
    assert sorted(evaluation.notes.values_list("valeur", flat=True)) == [3, 3, 3, 3]

    page.context.clear_cookies()
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Adresse e-mail").fill("charge@cerdd.test")
    page.get_by_label("Mot de passe").fill("demo-cerdd")
    page.get_by_role("button", name="Connexion").click()
    page.get_by_role("main").get_by_role("link", name="Appels", exact=True).click()
    page.get_by_role("link", name=recent.titre).first.click()
    page.get_by_role("link", name="Classement", exact=True).click()

    table = page.locator("#tableau-classement")
    expect(table.locator("th.dossier", has_text=numero)).to_be_visible()
    box = table.bounding_box()
    assert box["x"] + box["width"] <= 1366
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    detail = page.locator("#tableau-classement-detail")
    expect(detail).to_be_hidden()
    page.get_by_text("Détail par dossier").click()
    expect(detail).to_be_visible()
    assert_accessible(page)
