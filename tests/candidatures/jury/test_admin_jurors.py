"""The juror's side of the admin: « Dossiers à évaluer », the read-only dossier page, the
évaluation form and recusal. What a juror reaches is exactly ``for_juror``; the rest is 404."""

import html
import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from candidatures.dossiers import submission
from candidatures.jury import services as jury_services
from candidatures.jury.forms import EvaluationForm
from candidatures.models import (
    Affectation,
    Appel,
    Candidature,
    Collectivite,
    ConflitInteret,
    Evaluation,
    MembreJury,
    NiveauCritere,
    Note,
    Recommandation,
)
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import (
    AppelFactory,
    CritereFactory,
    complete_candidature,
    numbered,
)
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import break_weasyprint, page_text

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
LIST_URL = "/admin/candidatures/dossierjury/"
STAFF_LIST_URL = "/admin/candidatures/candidature/"
# A moment inside the 2021 window (10 December 2020 – 12 March 2021).
INSIDE_WINDOW = datetime(2021, 3, 1, 10, 0, tzinfo=PARIS)

# (libellé, note_max, guidance per level); the last level of the third critère has none.
GRILLE = [
    (
        "Collectivité engagée dans une dynamique de transition",
        4,
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
        4,
        [
            "Motivation absente ou formelle.",
            "Motivation peu argumentée.",
            "Motivation claire, attentes générales.",
            "Motivation argumentée, attentes précises.",
            "Motivation forte, posture d'apprentissage et de partage affirmée.",
        ],
    ),
    (
        "Présence garantie d'un binôme élu·e / technicien·ne",
        3,
        [
            "Pas de binôme identifié.",
            "Un·e seul·e référent·e identifié·e.",
            "Binôme identifié, disponibilité incertaine.",
            "",
        ],
    ),
]


# ---------------------------------------------------------------------------------------------
# Helpers and fixtures


@pytest.fixture(autouse=True)
def roles():
    sync_role_permissions()


def make_appel(edition_2021=True, **kwargs):
    appel = AppelFactory(edition_2021=edition_2021, **kwargs)
    for ordre, (libelle, note_max, niveaux) in enumerate(GRILLE, start=1):
        critere = CritereFactory(appel=appel, ordre=ordre, libelle=libelle, note_max=note_max)
        for note, text in enumerate(niveaux):
            if text:
                NiveauCritere.objects.create(critere=critere, note=note, description=text)
    return appel


@pytest.fixture
def appel():
    return make_appel(slug="2021")


def commune(insee):
    return Collectivite.objects.get(insee=insee)


def deposer(appel, collectivite=None, **answers):
    """A complete dossier submitted through the service: numbered, with its receipt."""
    if collectivite is not None:
        answers["collectivite"] = collectivite
    dossier = complete_candidature(appel=appel, **answers)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the receipt's task
        submission.submit_candidature(candidature=dossier, user=UserFactory(), now=INSIDE_WINDOW)
    dossier.refresh_from_db()
    return dossier


def deposee(appel, collectivite, number):
    """A submitted dossier set up directly (no receipt): enough for lists and permissions."""
    return Candidature.objects.create(
        appel=appel,
        collectivite=collectivite,
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, number),
        deposee_at=INSIDE_WINDOW + timedelta(hours=number),
    )


def jure(appel, email, collectivite=None, **names):
    user = juror(email=email, **names)
    MembreJury.objects.create(appel=appel, user=user, collectivite=collectivite)
    return user


def login(client, user):
    client.force_login(user)
    return client


def dossier_url(dossier):
    return f"{LIST_URL}{dossier.pk}/change/"


def evaluer_url(dossier):
    return f"{LIST_URL}{dossier.pk}/evaluer/"


def deporter_url(dossier):
    return f"{LIST_URL}{dossier.pk}/deporter/"


def result_rows(response):
    """The rows of the admin changelist's result table, as text without tags."""
    content = response.content.decode()
    table = re.search(r'<table id="result_list">(.*?)</table>', content, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>")[1], re.S)
    return [
        " | ".join(
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ).strip(" |")
        for row in rows
    ]


def text_of(response) -> str:
    """What a reader sees: the page without its tags, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page_text(response))).strip()


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def criteres_of(appel):
    return list(appel.criteres.order_by("ordre"))


def scores_post(appel, scores, *, button="enregistrer", **extra):
    """The évaluation form's POST: ``scores`` lists one value per critère (None = blank)."""
    data = {button: "1"}
    for critere, value in zip(criteres_of(appel), scores, strict=True):
        if value is not None:
            data[f"note_{critere.pk}"] = str(value)
        data[f"commentaire_{critere.pk}"] = f"Commentaire sur {critere.libelle.lower()}."
    data.update(extra)
    return data


def notes_in_db(evaluation):
    return [
        (note.critere.ordre, note.valeur, note.commentaire)
        for note in evaluation.notes.select_related("critere").order_by("critere__ordre")
    ]


# ---------------------------------------------------------------------------------------------
# Access: who reaches the juror's pages at all


@pytest.mark.parametrize("suffix", ["", "1/change/", "1/evaluer/", "1/deporter/"])
def test_anonymous_is_sent_to_the_admin_login(client, suffix):
    url = LIST_URL + suffix

    response = client.get(url)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("suffix", ["", "1/change/", "1/evaluer/", "1/deporter/"])
def test_applicant_without_staff_status_is_sent_to_the_admin_login(client, appel, suffix):
    url = LIST_URL + suffix
    login(client, UserFactory(email="mairie@arras.test"))

    response = client.get(url)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login/?next={url}"


def test_juror_is_refused_the_staff_dossier_list(client, appel):
    deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.get(STAFF_LIST_URL)

    assert response.status_code == 403


def test_juror_sees_dossiers_to_score_on_the_admin_index(client, appel):
    login(client, jure(appel, "jure@cerdd.test"))

    text = text_of(client.get("/admin/"))

    assert "Dossiers à évaluer" in text
    assert "Brouillons" not in text
    assert "Appels" not in text


def test_staff_without_the_jury_permission_is_refused_the_juror_list(client):
    login(client, charge_de_mission(email="charge@cerdd.test"))

    assert client.get(LIST_URL).status_code == 403


# ---------------------------------------------------------------------------------------------
# The list: exactly for_juror, with the juror's own évaluation state


def test_list_shows_exactly_the_dossiers_the_juror_may_score(client, appel):
    arras = deposee(appel, commune("62041"), 1)
    lens = deposee(appel, commune("62498"), 2)
    Candidature.objects.create(appel=appel, collectivite=commune("62193"))  # a draft
    other_call = make_appel(slug="2027", prefixe_numero="AMI-2027")
    deposee(other_call, commune("59350"), 1)
    user = jure(appel, "jure@cerdd.test")
    Evaluation.objects.create(candidature=lens, jure=user)
    login(client, user)

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert result_rows(response) == [
        "AMI-2021-001 | Arras | 62 | Commune | Non commencée | Évaluer",
        "AMI-2021-002 | Lens | 62 | Commune | Brouillon | Évaluer",
    ]
    assert {d.pk for d in Candidature.objects.for_juror(user)} == {arras.pk, lens.pk}
    content = response.content.decode()
    assert f'href="{evaluer_url(arras)}"' in content
    assert f'href="{dossier_url(arras)}' in content
    assert "Ajouter" not in text_of(response)


def test_list_filters_by_the_calls_the_juror_sits_on(client, appel):
    earlier = make_appel(
        edition_2021=False,
        slug="2020",
        prefixe_numero="AMI-2020",
        titre="Appel 2020",
        opens_at=datetime(2019, 12, 2, 9, 0, tzinfo=PARIS),
        closes_at=datetime(2020, 3, 13, 23, 59, 59, tzinfo=PARIS),
    )
    elsewhere = make_appel(slug="autre", prefixe_numero="AMI-AUTRE", titre="Appel sans ce jury")
    deposee(appel, commune("62041"), 1)
    deposee(earlier, commune("62498"), 1)
    user = jure(appel, "jure@cerdd.test")
    MembreJury.objects.create(appel=earlier, user=user)
    login(client, user)

    page = text_of(client.get(LIST_URL))

    assert result_rows(client.get(LIST_URL + f"?appel={earlier.pk}")) == [
        "AMI-2020-001 | Lens | 62 | Commune | Non commencée | Évaluer"
    ]
    assert result_rows(client.get(LIST_URL + f"?appel={appel.pk}")) == [
        "AMI-2021-001 | Arras | 62 | Commune | Non commencée | Évaluer"
    ]
    assert "Appel 2020 (2020)" in page
    assert elsewhere.titre not in page


def test_list_opens_on_the_calls_being_scored_and_keeps_closed_ones_apart(client, appel):
    earlier = make_appel(
        edition_2021=False,
        slug="2020",
        prefixe_numero="AMI-2020",
        titre="Appel 2020",
        opens_at=datetime(2019, 12, 2, 9, 0, tzinfo=PARIS),
        closes_at=datetime(2020, 3, 13, 23, 59, 59, tzinfo=PARIS),
        notation_close_at=datetime(2020, 4, 2, 18, 0, tzinfo=PARIS),
    )
    deposee(appel, commune("62041"), 1)
    deposee(earlier, commune("62498"), 1)
    user = jure(appel, "jure@cerdd.test")
    MembreJury.objects.create(appel=earlier, user=user)
    login(client, user)

    opening = client.get(LIST_URL)

    assert result_rows(opening) == ["AMI-2021-001 | Arras | 62 | Commune | Non commencée | Évaluer"]
    assert re.search(
        r'<li class="selected">\s*<a href="\?"[^>]*>En cours de notation</a>',
        opening.content.decode(),
    )
    assert result_rows(client.get(LIST_URL + "?appel=tous")) == [
        "AMI-2020-001 | Lens | 62 | Commune | Non commencée | Évaluer",
        "AMI-2021-001 | Arras | 62 | Commune | Non commencée | Évaluer",
    ]


def test_list_shows_a_submitted_evaluation_and_filters_by_it(client, appel):
    arras = deposee(appel, commune("62041"), 1)
    lens = deposee(appel, commune("62498"), 2)
    amiens = deposee(appel, commune("80021"), 3)
    user = jure(appel, "jure@cerdd.test")
    Evaluation.objects.create(
        candidature=arras,
        jure=user,
        statut=Evaluation.Statut.SOUMISE,
        submitted_at=timezone.now(),
        recommandation=Recommandation.RETENIR,
    )
    Evaluation.objects.create(candidature=lens, jure=user)
    # Another juror's évaluation says nothing about this juror's own state.
    Evaluation.objects.create(candidature=amiens, jure=jure(appel, "autre@cerdd.test"))
    login(client, user)

    def rows(query):
        return result_rows(client.get(LIST_URL + query))

    assert rows("") == [
        "AMI-2021-001 | Arras | 62 | Commune | Soumise | Évaluer",
        "AMI-2021-002 | Lens | 62 | Commune | Brouillon | Évaluer",
        "AMI-2021-003 | Amiens | 80 | Commune | Non commencée | Évaluer",
    ]
    assert rows("?mon_evaluation=soumise") == [
        "AMI-2021-001 | Arras | 62 | Commune | Soumise | Évaluer"
    ]
    assert rows("?mon_evaluation=brouillon") == [
        "AMI-2021-002 | Lens | 62 | Commune | Brouillon | Évaluer"
    ]
    assert rows("?mon_evaluation=non_commencee") == [
        "AMI-2021-003 | Amiens | 80 | Commune | Non commencée | Évaluer"
    ]
    assert rows("?departement=80") == [
        "AMI-2021-003 | Amiens | 80 | Commune | Non commencée | Évaluer"
    ]


def test_list_runs_the_same_queries_for_1_and_8_dossiers(client, appel, django_assert_num_queries):
    user = jure(appel, "jure@cerdd.test")
    login(client, user)
    communes = list(
        Collectivite.objects.filter(nature="commune", departement="59").order_by("insee")[:8]
    )
    first = deposee(appel, communes[0], 1)
    Evaluation.objects.create(candidature=first, jure=user)
    client.get(LIST_URL)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as one_dossier:
        assert len(result_rows(client.get(LIST_URL))) == 1

    for number, collectivite in enumerate(communes[1:], start=2):
        dossier = deposee(appel, collectivite, number)
        if number % 2:
            Evaluation.objects.create(candidature=dossier, jure=user)

    with django_assert_num_queries(len(one_dossier.captured_queries)):
        assert len(result_rows(client.get(LIST_URL))) == 8


def test_list_and_pages_are_empty_for_a_juror_of_another_call(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    other_call = make_appel(slug="2027", prefixe_numero="AMI-2027")
    login(client, jure(other_call, "jure-2027@cerdd.test"))

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert result_rows(response) == []
    assert "Aucun dossier à évaluer pour le moment." in text_of(response)
    for url in [dossier_url(dossier), evaluer_url(dossier), deporter_url(dossier)]:
        assert client.get(url).status_code == 404
    assert client.post(evaluer_url(dossier), scores_post(appel, [1, 1, 1])).status_code == 404
    assert not Evaluation.objects.exists()


def test_staff_who_is_not_a_juror_sees_an_empty_list(client, appel):
    deposee(appel, commune("62041"), 1)
    staff = charge_de_mission(email="charge@cerdd.test")
    staff.groups.add(*juror().groups.all())  # also holds the jury permission
    login(client, staff)

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert result_rows(response) == []


def test_drafts_are_never_listed_nor_reachable(client, appel):
    draft = complete_candidature(appel=appel, collectivite=commune("62041"))
    login(client, jure(appel, "jure@cerdd.test"))

    assert result_rows(client.get(LIST_URL)) == []
    for url in [dossier_url(draft), evaluer_url(draft), deporter_url(draft)]:
        assert client.get(url).status_code == 404


def test_detected_conflict_hides_the_dossier(client, appel):
    """A juror of the CU d'Arras never sees the commune of Arras, a member of it."""
    arras = deposee(appel, commune("62041"), 1)
    lens = deposee(appel, commune("62498"), 2)
    cu_arras = Collectivite.objects.get(siren="200033579")
    assert arras.collectivite.epci == cu_arras
    login(client, jure(appel, "jure@cu-arras.test", collectivite=cu_arras))

    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-002 | Lens | 62 | Commune | Non commencée | Évaluer"
    ]
    for url in [dossier_url(arras), evaluer_url(arras), deporter_url(arras)]:
        assert client.get(url).status_code == 404
    assert client.get(dossier_url(lens)).status_code == 200


def test_assignment_mode_lists_only_assigned_dossiers(client):
    appel = make_appel(slug="2021", mode_jury=Appel.ModeJury.AFFECTATION)
    arras = deposee(appel, commune("62041"), 1)
    lens = deposee(appel, commune("62498"), 2)
    user = jure(appel, "jure@cerdd.test")
    Affectation.objects.create(candidature=lens, jure=user)
    login(client, user)

    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-002 | Lens | 62 | Commune | Non commencée | Évaluer"
    ]
    assert client.get(dossier_url(lens)).status_code == 200
    assert client.get(dossier_url(arras)).status_code == 404
    assert client.get(evaluer_url(arras)).status_code == 404


# ---------------------------------------------------------------------------------------------
# The read-only dossier page


def test_dossier_page_shows_every_answer_attachments_and_receipt(client, appel):
    dossier = deposer(
        appel,
        commune("62041"),
        ref_pol_nom="Frédéric Leturque",
        motivations="Associer les habitant·es au plan climat.",
    )
    letter = dossier.pieces.get()
    user = jure(appel, "jure@cerdd.test")
    login(client, user)

    response = client.get(dossier_url(dossier))

    assert response.status_code == 200
    content = response.content.decode()
    text = text_of(response)
    for heading in [
        "Dossier",
        "Coordonnées de la collectivité",
        "Référent·e politique",
        "Référent·e technique",
        "Point contact technique pour le Cerdd",
        "Questionnaire de l&#x27;appel",
        "Engagements",
    ]:
        assert f">{heading}</h2>" in content
    # The call's questionnaire, one heading per step.
    assert "<h3>Motivations et projet</h3>" in content
    assert "<h3>Pièces jointes</h3>" in content
    assert "Frédéric Leturque" in text
    assert "Associer les habitant·es au plan climat." in text
    assert "Budget participatif depuis 2019." in text
    assert "Arras — commune, INSEE 62041, 62" in text
    assert "AMI-2021-001" in text
    assert "1er mars 2021 à 10 h 00" in text
    assert f'<a href="{letter.get_absolute_url()}">lettre-de-motivation.pdf</a>' in content
    receipt = f"/candidature/{dossier.pk}/recu/1/"
    assert f'<a href="{receipt}">' in content
    assert (
        f'<a href="{evaluer_url(dossier)}" class="jury-evaluer">Évaluer ce dossier</a>' in content
    )
    assert "Je me déporte (conflit d'intérêts)" in text
    assert "Mon évaluation : Non commencée" in text
    # View mode: no input, no save button, no history of staff actions.
    form = content.split('id="dossierjury_form"')[1].split("</form>")[0]
    inputs = re.findall(r"<(?:input|textarea|select)\b[^>]*>", form)
    assert [i for i in inputs if 'type="hidden"' not in i] == []
    assert 'name="_save"' not in content
    assert "/history/" not in content
    # The files open for the juror (the public file views use readable_by).
    assert client.get(letter.get_absolute_url()).status_code == 200
    assert client.get(receipt).status_code == 200


def test_dossier_page_says_when_the_receipt_is_not_issued_yet(client, appel, monkeypatch):
    dossier = complete_candidature(appel=appel, collectivite=commune("62041"))
    break_weasyprint(monkeypatch)
    submission.submit_candidature(candidature=dossier, user=UserFactory(), now=INSIDE_WINDOW)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.get(dossier_url(dossier))

    assert "Accusé de réception en préparation : il sera envoyé par e-mail." in text_of(response)
    assert f"/candidature/{dossier.pk}/recu/1/" not in response.content.decode()


def test_dossier_page_refuses_changes(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.post(dossier_url(dossier), {"motivations": "Réécrit par un·e juré·e"})

    dossier.refresh_from_db()
    assert response.status_code == 403
    assert dossier.motivations == ""


# ---------------------------------------------------------------------------------------------
# The évaluation form


def test_form_shows_each_levels_guidance_beside_its_score(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.get(evaluer_url(dossier))

    assert response.status_code == 200
    content = response.content.decode()
    text = text_of(response)
    assert "État de mon évaluation : Non commencée" in text
    for critere, (libelle, note_max, niveaux) in zip(criteres_of(appel), GRILLE, strict=True):
        assert f"{libelle} (note de 0 à {note_max}, coefficient 1)" in text
        for note, guidance in enumerate(niveaux):
            label = f"{note} — {guidance}" if guidance else f"{note}"
            name = f"note_{critere.pk}"
            radio = re.search(
                rf'<label for="id_{name}_{note}">'
                rf'<input type="radio" name="{name}" value="{note}"[^>]*>\s*(.*?)</label>',
                content,
                re.S,
            )
            assert radio is not None, label
            assert html.unescape(radio.group(1)).strip() == label
        assert f'name="note_{critere.pk}" value="{note_max + 1}"' not in content
        assert f'name="commentaire_{critere.pk}"' in content
    for label in ["Retenir", "Liste d'attente", "Ne pas retenir"]:
        assert label in text
    assert 'name="commentaire_prive"' in content
    assert 'name="retour_collectivite"' in content
    assert 'value="Enregistrer le brouillon"' in content
    assert 'value="Soumettre l\'évaluation"' in html.unescape(content)


def test_draft_then_submit_records_the_evaluation(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [3, None, 2], commentaire_prive="À revoir en séance."),
    )

    assert response.status_code == 302
    assert response.headers["Location"] == evaluer_url(dossier)
    assert messages_of(response) == [
        "Brouillon enregistré. Vous pourrez le reprendre puis le soumettre jusqu'à la clôture "
        "de la notation."
    ]
    evaluation = Evaluation.objects.get(candidature=dossier, jure=user)
    assert (evaluation.statut, evaluation.submitted_at, evaluation.recommandation) == (
        Evaluation.Statut.BROUILLON,
        None,
        "",
    )
    assert evaluation.commentaire_prive == "À revoir en séance."
    assert notes_in_db(evaluation) == [
        (1, 3, "Commentaire sur collectivité engagée dans une dynamique de transition."),
        (2, None, "Commentaire sur motivation, détermination et humilité."),
        (3, 2, "Commentaire sur présence garantie d'un binôme élu·e / technicien·ne."),
    ]
    page = client.get(evaluer_url(dossier))
    assert "État de mon évaluation : Brouillon (enregistré le" in text_of(page)
    first = criteres_of(appel)[0]
    assert re.search(
        rf'<input type="radio" name="note_{first.pk}" value="3"[^>]*checked', page.content.decode()
    )
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-001 | Arras | 62 | Commune | Brouillon | Évaluer"
    ]

    before = timezone.now()
    response = client.post(
        evaluer_url(dossier),
        scores_post(
            appel,
            [3, 4, 2],
            button="soumettre",
            recommandation=Recommandation.RETENIR,
            retour_collectivite="Une démarche sincère et structurée.",
            commentaire_prive="À revoir en séance.",
        ),
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Votre évaluation est soumise. Merci !"]
    evaluation.refresh_from_db()
    assert evaluation.statut == Evaluation.Statut.SOUMISE
    assert before <= evaluation.submitted_at <= timezone.now()
    assert evaluation.recommandation == Recommandation.RETENIR
    assert evaluation.retour_collectivite == "Une démarche sincère et structurée."
    assert [(ordre, valeur) for ordre, valeur, _ in notes_in_db(evaluation)] == [
        (1, 3),
        (2, 4),
        (3, 2),
    ]
    assert Evaluation.objects.count() == 1
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-001 | Arras | 62 | Commune | Soumise | Évaluer"
    ]
    assert "Mon évaluation : Soumise le" in text_of(client.get(dossier_url(dossier)))


def test_submitted_evaluation_stays_editable_and_complete(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=user,
        notes=dict.fromkeys(criteres_of(appel), (2, "")),
        recommandation=Recommandation.LISTE_ATTENTE,
        submit=True,
    )
    submitted_at = Evaluation.objects.get().submitted_at
    login(client, user)
    page = client.get(evaluer_url(dossier))
    assert 'value="Enregistrer les modifications"' in page.content.decode()

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [4, 2, 2], button="soumettre", recommandation="retenir"),
    )

    assert messages_of(response) == ["Votre évaluation soumise a été mise à jour."]
    evaluation = Evaluation.objects.get()
    assert (evaluation.statut, evaluation.submitted_at) == (Evaluation.Statut.SOUMISE, submitted_at)
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [4, 2, 2]
    assert evaluation.recommandation == Recommandation.RETENIR

    # Blanking a score of a submitted évaluation, even through the draft button, is refused.
    response = client.post(evaluer_url(dossier), scores_post(appel, [4, None, 2]))

    assert response.status_code == 200
    assert "Notez chaque critère avant de soumettre : Motivation, détermination et humilité." in (
        text_of(response)
    )
    assert [valeur for _, valeur, _ in notes_in_db(Evaluation.objects.get())] == [4, 2, 2]


def test_score_outside_the_scale_is_refused_in_french(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [9, 2, 2], button="soumettre", recommandation="retenir"),
    )

    assert response.status_code == 200
    text = text_of(response)
    assert "L'évaluation n'a pas été enregistrée" in text
    assert "Choisissez une note entre 0 et 4." in text
    assert not Evaluation.objects.exists()
    assert not Note.objects.exists()
    # What the juror typed stays in the form.
    assert "Commentaire sur présence garantie d'un binôme élu·e / technicien·ne." in text


def test_unknown_recommendation_is_refused(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.post(evaluer_url(dossier), scores_post(appel, [1, 1, 1], recommandation="x"))

    assert "Choisissez une recommandation dans la liste." in text_of(response)
    assert not Evaluation.objects.exists()


def test_submit_with_a_missing_score_keeps_the_draft(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)
    client.post(evaluer_url(dossier), scores_post(appel, [3, None, None]))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [3, 2, None], button="soumettre", recommandation="attente"),
    )

    assert response.status_code == 200
    text = text_of(response)
    assert (
        "Notez chaque critère avant de soumettre : Présence garantie d'un binôme élu·e / "
        "technicien·ne." in text
    )
    evaluation = Evaluation.objects.get(candidature=dossier, jure=user)
    assert (evaluation.statut, evaluation.submitted_at) == (Evaluation.Statut.BROUILLON, None)
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [3, None, None]
    assert evaluation.recommandation == ""
    # The refused input is still there to complete.
    second = criteres_of(appel)[1]
    assert re.search(
        rf'<input type="radio" name="note_{second.pk}" value="2"[^>]*checked',
        response.content.decode(),
    )


def test_closed_scoring_shows_the_evaluation_read_only_and_refuses_changes(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    jury_services.save_evaluation(
        candidature=dossier, jure=user, notes=dict.fromkeys(criteres_of(appel), (1, ""))
    )
    jury_services.close_scoring(appel=appel, staff_user=charge_de_mission())
    login(client, user)

    page = client.get(evaluer_url(dossier))

    assert page.status_code == 200
    content = page.content.decode()
    assert "La notation est close." in text_of(page)
    radios = re.findall(r'<input type="radio"[^>]*>', content)
    assert radios
    assert all("disabled" in radio for radio in radios)
    assert 'value="Soumettre l' not in content
    assert 'value="Enregistrer le brouillon"' not in content
    assert "La notation est close." in text_of(client.get(dossier_url(dossier)))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [4, 4, 3], button="soumettre", recommandation="retenir"),
    )

    assert response.status_code == 200
    assert "La notation est close : les évaluations ne peuvent plus changer." in text_of(response)
    evaluation = Evaluation.objects.get()
    assert evaluation.statut == Evaluation.Statut.BROUILLON
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [1, 1, 1]


def test_jurors_see_no_dossier_before_the_deadline(client):
    """DESIGN: « After the deadline, jury members see… »: before it, the list is empty and
    every page of a submitted dossier is a 404; one second after it, the dossier is there."""
    appel = make_appel(edition_2021=False, slug="2028")  # open now: the deadline is ahead
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")

    # Signed in at each moment: a session opened today would have expired by then.
    with time_machine.travel(appel.closes_at, tick=False):
        login(client, user)
        before = [
            client.get(LIST_URL),
            client.get(dossier_url(dossier)),
            client.get(evaluer_url(dossier)),
            client.get(deporter_url(dossier)),
        ]
    with time_machine.travel(appel.closes_at + timedelta(seconds=1), tick=False):
        login(client, user)
        after = [client.get(LIST_URL), client.get(dossier_url(dossier))]

    assert [response.status_code for response in before] == [200, 404, 404, 404]
    assert result_rows(before[0]) == []
    assert [response.status_code for response in after] == [200, 200]
    assert [row.split(" | ")[0] for row in result_rows(after[0])] == [dossier.numero]


def test_a_dossier_with_an_extension_stays_hidden_until_its_own_deadline(client):
    appel = make_appel(edition_2021=False, slug="2028")
    on_time = deposee(appel, commune("62041"), 1)
    extended = deposee(appel, commune("80021"), 2)
    extended.prolongation_jusqu_au = appel.closes_at + timedelta(days=2)
    extended.save(update_fields=["prolongation_jusqu_au"])
    user = jure(appel, "jure@cerdd.test")

    with time_machine.travel(appel.closes_at + timedelta(seconds=1), tick=False):
        login(client, user)
        visible_first = set(Candidature.objects.for_juror(user).values_list("pk", flat=True))
        extended_page_first = client.get(dossier_url(extended)).status_code
    with time_machine.travel(extended.prolongation_jusqu_au + timedelta(seconds=1), tick=False):
        login(client, user)
        visible_then = set(Candidature.objects.for_juror(user).values_list("pk", flat=True))
        extended_page_then = client.get(dossier_url(extended)).status_code

    assert visible_first == {on_time.pk}
    assert extended_page_first == 404
    assert visible_then == {on_time.pk, extended.pk}
    assert extended_page_then == 200


# ---------------------------------------------------------------------------------------------
# Conflicts declared by the juror


def test_juror_declares_a_conflict_and_the_dossier_disappears(client, appel):
    arras = deposee(appel, commune("62041"), 1)
    deposee(appel, commune("62498"), 2)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)

    page = client.get(deporter_url(arras))
    assert page.status_code == 200
    assert "Je me déporte du dossier AMI-2021-001 — Arras" in text_of(page)

    response = client.post(deporter_url(arras), {"motif": "  "})
    assert response.status_code == 200
    assert "Indiquez la raison pour laquelle vous vous déportez." in text_of(response)
    assert not ConflitInteret.objects.exists()

    response = client.post(deporter_url(arras), {"motif": "J'habite Arras."})

    assert response.status_code == 302
    assert response.headers["Location"] == LIST_URL
    assert messages_of(response) == [
        "Vous vous êtes déporté·e du dossier Arras (AMI-2021-001). Il n'apparaît plus dans votre "
        "liste et votre éventuelle évaluation n'est pas comptée."
    ]
    conflict = ConflitInteret.objects.get()
    assert (conflict.candidature, conflict.jure, conflict.origine, conflict.motif) == (
        arras,
        user,
        ConflitInteret.Origine.DECLARE,
        "J'habite Arras.",
    )
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-002 | Lens | 62 | Commune | Non commencée | Évaluer"
    ]
    for url in [dossier_url(arras), evaluer_url(arras), deporter_url(arras)]:
        assert client.get(url).status_code == 404
    assert client.post(evaluer_url(arras), scores_post(appel, [1, 1, 1])).status_code == 404
    assert not Evaluation.objects.exists()


# ---------------------------------------------------------------------------------------------
# Independence until the deliberation opens


def test_other_jurors_evaluations_appear_only_after_deliberation_opens(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test", first_name="Léa", last_name="Caron")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes={
            critere: (score, f"Note de Marc n° {critere.ordre}")
            for critere, score in zip(criteres_of(appel), [4, 3, 1], strict=True)
        },
        commentaire_prive="Marc, pour le jury seulement.",
        retour_collectivite="Marc : bravo pour le budget participatif.",
        recommandation=Recommandation.NE_PAS_RETENIR,
        submit=True,
    )
    # A juror who later withdrew: their évaluation is never shown.
    nadia = jure(appel, "nadia@cerdd.test", first_name="Nadia", last_name="Benali")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=nadia,
        notes=dict.fromkeys(criteres_of(appel), (0, "Note de Nadia")),
        commentaire_prive="Nadia, pour le jury.",
        recommandation=Recommandation.RETENIR,
        submit=True,
    )
    jury_services.declare_conflict(candidature=dossier, jure=nadia, motif="Élue d'Arras.")
    login(client, lea)
    hidden = [
        "Marc",
        "Note de Marc",
        "Marc, pour le jury seulement.",
        "bravo pour le budget participatif",
        "Évaluations des autres juré·es",
        "Nadia",
    ]

    for url in [dossier_url(dossier), evaluer_url(dossier)]:
        before = page_text(client.get(url))  # tags and attributes included
        for secret in hidden:
            assert secret not in before, (url, secret)

    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    after = text_of(client.get(dossier_url(dossier)))

    assert "Évaluations des autres juré·es" in after
    assert "Marc Delattre — soumise le" in after
    assert "Recommandation : Ne pas retenir" in after
    for ordre, (libelle, note_max, _) in enumerate(GRILLE, start=1):
        score = [4, 3, 1][ordre - 1]
        assert f"{libelle} {score} / {note_max} Note de Marc n° {ordre}" in after
    assert "Retour pour la collectivité : Marc : bravo pour le budget participatif." in after
    assert "Commentaire pour le jury : Marc, pour le jury seulement." in after
    assert "Nadia" not in after


def test_a_jurors_posts_are_in_the_evaluation_history_with_who_and_before_after(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test", first_name="Léa", last_name="Caron")
    login(client, lea)
    first = client.post(
        evaluer_url(dossier),
        scores_post(appel, [2, 3, 1], retour_collectivite="Un budget à préciser."),
    )
    second = client.post(
        evaluer_url(dossier),
        scores_post(
            appel,
            [2, 3, 1],
            button="soumettre",
            recommandation="attente",
            retour_collectivite="Un budget participatif bien engagé.",
        ),
    )
    evaluation = Evaluation.objects.get()
    login(client, charge_de_mission())

    history = client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/history/")

    assert (first.status_code, second.status_code) == (302, 302)
    records = list(evaluation.history.order_by("history_date", "history_id"))
    assert [record.history_user for record in records] == [lea] * len(records)
    content = page_text(history)
    rows = content[content.index('id="change-history"') :]
    assert rows.count(f'<a href="/admin/cerdd_ami/user/{lea.pk}/change/">Léa Caron</a>') == len(
        records
    )
    changes = text_of(history).replace("\xa0", " ")
    assert (
        "Retour pour la collectivité : Un budget à préciser. → Un budget participatif bien "
        "engagé." in changes
    )
    assert "None" not in changes


def test_evaluation_of_a_colleague_removed_from_the_jury_is_not_shown(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes=dict.fromkeys(criteres_of(appel), (2, "Note de Marc")),
        recommandation=Recommandation.RETENIR,
        submit=True,
    )
    MembreJury.objects.filter(user=marc).delete()  # Marc leaves the jury
    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    login(client, lea)

    text = text_of(client.get(dossier_url(dossier)))

    assert "Aucun·e autre juré·e n'a soumis d'évaluation de ce dossier." in text
    assert "Note de Marc" not in text


def test_drafts_of_other_jurors_stay_hidden_after_deliberation(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes=dict.fromkeys(criteres_of(appel), (2, "Brouillon de Marc")),
    )
    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    login(client, lea)

    text = text_of(client.get(dossier_url(dossier)))

    assert "Aucun·e autre juré·e n'a soumis d'évaluation de ce dossier." in text
    assert "Brouillon de Marc" not in text


# ---------------------------------------------------------------------------------------------
# The form on its own


def test_form_labels_a_level_without_guidance_by_its_number_only(appel):
    dossier = deposee(appel, commune("62041"), 1)
    third = criteres_of(appel)[2]

    form = EvaluationForm(dossier)

    assert form.fields[f"note_{third.pk}"].choices == [
        (0, "0 — Pas de binôme identifié."),
        (1, "1 — Un·e seul·e référent·e identifié·e."),
        (2, "2 — Binôme identifié, disponibilité incertaine."),
        (3, "3"),
    ]


def test_form_refuses_a_tampered_score_with_the_scale(appel):
    dossier = deposee(appel, commune("62041"), 1)
    third = criteres_of(appel)[2]

    form = EvaluationForm(dossier, data={f"note_{third.pk}": "4"})

    assert not form.is_valid()
    assert form.errors[f"note_{third.pk}"] == ["Choisissez une note entre 0 et 3."]
    assert form.error_summary() == [
        "Présence garantie d'un binôme élu·e / technicien·ne : Choisissez une note entre 0 et 3."
    ]


def test_form_starts_from_the_saved_evaluation(appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    first, second, third = criteres_of(appel)
    evaluation = jury_services.save_evaluation(
        candidature=dossier,
        jure=user,
        notes={first: (4, "Très engagée."), second: (None, "À relire.")},
        retour_collectivite="Merci.",
        recommandation=Recommandation.RETENIR,
    )

    form = EvaluationForm(dossier, evaluation)

    assert form[f"note_{first.pk}"].value() == 4
    assert form[f"commentaire_{first.pk}"].value() == "Très engagée."
    assert form[f"note_{second.pk}"].value() is None
    assert form[f"commentaire_{second.pk}"].value() == "À relire."
    assert form[f"note_{third.pk}"].value() is None
    assert form["recommandation"].value() == "retenir"
    assert form["retour_collectivite"].value() == "Merci."
