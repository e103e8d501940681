"""The demo's second programme, « Alimentation durable »: its call reads as its own, on its
public page, in its receipt and in the deposit e-mail, never as « Territoires participatifs »."""

import io

import pypdf
import pytest

from candidatures.dossiers import submission
from candidatures.questionnaires.demo import ensure_appel_alimentation
from tests.candidatures.factories import CandidatureFactory, answer, complete_candidature
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

PROJET = "Une légumerie intercommunale pour les cantines du bassin minier, en circuits courts."


def test_alimentation_call_page_speaks_of_its_own_programme(client):
    appel = ensure_appel_alimentation()

    content = page_text(client.get(appel.get_absolute_url()))

    assert f"<h1>{appel.titre}</h1>" in content
    for words in [
        "Le programme « Alimentation durable »",
        "L'objectif du programme Alimentation durable : aider les collectivités",
        "projets alimentaires territoriaux (PAT)",
        "restauration collective, commande publique, circuits courts",
        "contre la précarité alimentaire",
        "Un binôme élu·e / technicien·ne",
        "5. Travailler collectivement un argumentaire robuste",
        "la place qu'elle accorde ou souhaite accorder à l'alimentation",
    ]:
        assert words in content
    assert "participati" not in content.lower()


def test_alimentation_home_page_speaks_of_its_own_programme(client):
    ensure_appel_alimentation()

    content = page_text(client.get("/"))

    assert "Programme « Alimentation durable »" in content
    assert "participati" not in content.lower()


def test_alimentation_dossier_pages_speak_of_its_own_programme(client):
    appel = ensure_appel_alimentation()
    user = UserFactory(email="dgs@bethune.test")
    candidature = CandidatureFactory(appel=appel, createur=user)
    client.force_login(user)

    pages = [page_text(client.get(f"/candidature/nouvelle/{appel.slug}/?autre=1"))]
    pages.append(page_text(client.get(candidature.get_absolute_url())))
    step = 1
    while (
        response := client.get(f"/candidature/{candidature.pk}/etape/{step}/")
    ).status_code == 200:
        pages.append(page_text(response))
        step += 1

    assert step == 6  # coordonnées, référent·es, its two pages, engagements
    assert "Décrivez votre projet alimentaire territorial" in pages[4]
    for content in pages:
        assert "participati" not in content.lower()


def test_alimentation_receipt_and_deposit_email_speak_of_its_own_programme(
    mailoutbox, django_capture_on_commit_callbacks
):
    appel = ensure_appel_alimentation()
    user = UserFactory(email="dgs@bethune.test")
    candidature = complete_candidature(
        appel=appel, createur=user, ref_pol_fonction="Vice-présidente à l'alimentation"
    )
    for code, value in [
        ("projet", PROJET),
        ("leviers", {"choix": ["Restauration collective", "Circuits courts"], "autre": ""}),
        ("repas", "2400"),
        ("debut", "2027-09-01"),
        ("pat", False),
    ]:
        answer(candidature, code, value)

    # The receipt is issued by the task the deposit enqueues, once committed.
    with django_capture_on_commit_callbacks(execute=True):
        depot = submission.submit_candidature(candidature=candidature, user=user)

    depot.refresh_from_db()
    reader = pypdf.PdfReader(io.BytesIO(depot.recu.read()))
    receipt = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert appel.titre in receipt
    assert "Projet alimentaire" in receipt
    assert "participati" not in receipt.lower()
    [email] = mailoutbox
    html = email.alternatives[0].content
    for body in (email.body, html):
        assert "cellule d'orientation du programme" in body
        assert "Alimentation durable" in body
        assert "participati" not in body.lower()


def test_alimentation_call_has_its_own_jury_grid():
    appel = ensure_appel_alimentation()
    ensure_appel_alimentation()  # the demo loads twice without doubling it

    grid = [
        (c.ordre, c.libelle, c.poids, c.note_max, c.niveaux.count())
        for c in appel.criteres.order_by("ordre")
    ]
    assert grid == [
        (1, "Action ou intention sur l'alimentation", 1, 4, 5),
        (2, "Motivation, détermination et humilité", 1, 4, 5),
        (3, "Place de l'alimentation dans le projet de territoire et apport au cycle", 1, 4, 5),
        (4, "Présence garantie d'un binôme élu·e / technicien·ne", 1, 4, 5),
    ]
