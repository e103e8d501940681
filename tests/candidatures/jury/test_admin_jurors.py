"""The juror's side of the admin: « Dossiers à évaluer » and the read-only dossier page.
What a juror reaches is exactly ``for_juror``; the rest is 404.
"""

import re
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from candidatures.dossiers import submission
from candidatures.models import (
    Affectation,
    Appel,
    Candidature,
    Collectivite,
    Evaluation,
    MembreJury,
    PieceJointe,
    Recommandation,
)
from tests.candidatures.factories import complete_candidature
from tests.candidatures.jury.admin_jurors_helpers import (
    INSIDE_WINDOW,
    LIST_URL,
    PARIS,
    STAFF_LIST_URL,
    commune,
    deporter_url,
    deposee,
    deposer,
    dossier_url,
    evaluer_url,
    jure,
    login,
    make_appel,
    result_rows,
    scores_post,
    text_of,
)
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import break_weasyprint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roles")]


@pytest.fixture
def appel():
    return make_appel(slug="2021")


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

    response = client.get("/admin/")
    text = text_of(response)

    assert "Dossiers à évaluer" in text
    assert "Brouillons" not in text
    # No link to the calls' admin (the header's « Appels à manifestation d'intérêt » is text).
    assert 'href="/admin/candidatures/appel/"' not in response.content.decode()


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
    # Once, with its answer: not a second time in a list of pieces.
    assert content.count(f'<a href="{letter.get_absolute_url()}">') == 1
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


def test_dossier_page_lists_a_piece_sent_on_a_demande_de_complement(client, appel):
    dossier = deposer(appel, commune("62041"))
    complement = PieceJointe.objects.create(
        candidature=dossier,
        nature=PieceJointe.Nature.COMPLEMENTAIRE,
        nom_original="budget.pdf",
        type_mime="application/pdf",
        taille=12,
        sha256="0" * 64,
        fichier="pieces/budget.pdf",
    )
    login(client, jure(appel, "jure@cerdd.test"))

    content = client.get(dossier_url(dossier)).content.decode()

    assert (
        f'<ul class="pieces-jointes"><li><a href="{complement.get_absolute_url()}">budget.pdf</a>'
        f" ({complement.get_nature_display()})</li></ul>"
    ) in content


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
