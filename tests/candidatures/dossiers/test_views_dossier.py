import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from candidatures.appels.models import end_of_day
from candidatures.models import (
    AccesCandidature,
    Candidature,
    Collectivite,
    Depot,
    Evenement,
    PieceJointe,
)
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    answer_of,
    complete_candidature,
    tiny_pdf_bytes,
)
from tests.factories import UserFactory, charge_de_mission
from tests.utils import break_weasyprint, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def other_applicant():
    return UserFactory(email="mairie@ailleurs.test")


@pytest.fixture
def appel():
    return AppelFactory(slug="2021")


@pytest.fixture
def dossier(appel, applicant):
    return CandidatureFactory(
        appel=appel, collectivite=Collectivite.objects.get(insee="62528"), createur=applicant
    )


def test_mes_candidatures_requires_sign_in(client):
    response = client.get("/candidature/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion/?next=/candidature/"


def test_mes_candidatures_lists_only_my_dossiers(
    client, applicant, other_applicant, dossier, appel
):
    CandidatureFactory(appel=appel, createur=other_applicant)
    client.force_login(applicant)

    content = page_text(client.get("/candidature/"))

    assert content.count('<h2 class="h5 card-title">') == 1
    assert f'<a href="/candidature/{dossier.pk}/">Loos-en-Gohelle</a>' in content


@pytest.mark.parametrize("rows", [1, 6])
def test_mes_candidatures_query_count_does_not_grow(
    client, applicant, django_assert_num_queries, rows
):
    for _ in range(rows):
        CandidatureFactory(appel=AppelFactory(), createur=applicant)
        AppelFactory()  # an open call to apply to
    client.force_login(applicant)
    client.get("/")  # the session now remembers whether they take part in a cycle

    # Session, user, the dossiers, the open calls (the menu's count is on the user).
    with django_assert_num_queries(4):
        response = client.get("/candidature/")

    content = page_text(response)
    assert content.count("Candidater pour une autre collectivité à « ") == rows
    assert content.count('<a class="btn btn-primary" href="/candidature/nouvelle/') == rows


def test_mes_candidatures_offers_only_the_open_calls_without_my_dossier(
    client, applicant, dossier, appel
):
    later = AppelFactory(
        titre="Alimentation durable en Hauts-de-France — 2027",
        programme="Alimentation durable",
        slug="alimentation-2027",
        closes_at=end_of_day(timezone.localdate() + timedelta(days=40)),
    )
    sooner = AppelFactory(
        titre="Vers des territoires participatifs — 2027",
        slug="2027",
        closes_at=end_of_day(timezone.localdate() + timedelta(days=3)),
    )
    AppelFactory(titre="Pas encore publié", slug="brouillon", est_publie=False)
    AppelFactory(titre="Appel clos", slug="clos", edition_2021=True)
    client.force_login(applicant)

    content = page_text(client.get("/candidature/"))

    offers = re.findall(
        r'<a class="btn btn-primary" href="(/candidature/nouvelle/[^"]+)">([^<]+)</a>', content
    )
    # Soonest closing first; not the call I already have a dossier for.
    assert offers == [
        (f"/candidature/nouvelle/{sooner.slug}/", f"Candidater à « {sooner.titre} »"),
        (f"/candidature/nouvelle/{later.slug}/", f"Candidater à « {later.titre} »"),
    ]
    assert (
        "Programme « Alimentation durable » · date limite de dépôt : "
        f"{format_date_fr(later.closes_at)} à 23 h 59 (heure de Paris)" in content
    )
    assert (
        f'<a class="btn btn-outline-primary" href="/candidature/nouvelle/{appel.slug}/?autre=1">'
        f"Candidater pour une autre collectivité à « {appel.titre} »</a>" in content
    )
    assert f"Candidater à « {appel.titre} »" not in content
    assert "Pas encore publié" not in content
    assert "Appel clos" not in content
    assert "Aucun appel n'est ouvert aux candidatures pour le moment." not in content


def test_mes_candidatures_with_no_open_call_offers_none(client, applicant):
    AppelFactory(titre="Appel clos", slug="clos", edition_2021=True)
    client.force_login(applicant)

    content = page_text(client.get("/candidature/"))

    assert "Vous n'avez pas encore de dossier." in content
    assert "Aucun appel n'est ouvert aux candidatures pour le moment." in content
    assert "/candidature/nouvelle/" not in content
    assert "Appel clos" not in content


def test_nouvelle_creates_the_draft_for_the_picked_collectivite(client, applicant, appel):
    client.force_login(applicant)

    response = client.post("/candidature/nouvelle/2021/", {"collectivite": "216205286"})

    candidature = Candidature.objects.get()
    assert response.headers["Location"] == f"/candidature/{candidature.pk}/etape/1/"
    assert (candidature.collectivite.nom, candidature.statut) == ("Loos-en-Gohelle", "brouillon")
    assert list(candidature.acces.values_list("user__email", "role")) == [
        ("mairie@loos.test", "createur")
    ]


def test_nouvelle_with_tampered_siren_says_so_and_creates_nothing(client, applicant, appel):
    client.force_login(applicant)

    response = client.post("/candidature/nouvelle/2021/", {"collectivite": "999999999"})

    assert "Cette collectivité ne figure pas dans la liste officielle." in page_text(response)
    assert Candidature.objects.count() == 0


def test_nouvelle_for_a_collectivite_with_a_dossier_offers_to_ask_for_access(
    client, other_applicant, dossier, mailoutbox, django_capture_on_commit_callbacks
):
    dossier.ref_pol_email = "maire@loos.test"
    dossier.save()
    client.force_login(other_applicant)

    response = client.post("/candidature/nouvelle/2021/", {"collectivite": "216205286"})
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(
            "/candidature/nouvelle/2021/",
            {"collectivite": "216205286", "action": "demande_acces"},
        )

    assert "Loos-en-Gohelle a déjà un dossier pour cet appel" in page_text(response)
    assert asked.headers["Location"] == "/candidature/"
    assert Candidature.objects.count() == 1
    assert AccesCandidature.objects.filter(user=other_applicant).count() == 0
    assert [sorted(message.to) for message in mailoutbox] == [
        ["maire@loos.test", "mairie@loos.test"]
    ]
    assert "mairie@ailleurs.test" in mailoutbox[0].body


def test_nouvelle_on_a_closed_call_redirects_with_a_message(client, applicant):
    AppelFactory(slug="2021", edition_2021=True)
    client.force_login(applicant)

    response = client.post(
        "/candidature/nouvelle/2021/", {"collectivite": "216205286"}, follow=True
    )

    assert "Cet appel n'est pas ouvert aux candidatures." in page_text(response)
    assert Candidature.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "/candidature/{pk}/",
        "/candidature/{pk}/etape/1/",
        "/candidature/{pk}/etape/4/",
        "/candidature/{pk}/mes-donnees/",
    ],
)
def test_dossier_pages_of_someone_else_are_404(client, other_applicant, dossier, url):
    client.force_login(other_applicant)

    assert client.get(url.format(pk=dossier.pk)).status_code == 404


def test_dossier_post_actions_of_someone_else_are_404_and_change_nothing(
    client, other_applicant, dossier
):
    client.force_login(other_applicant)

    saved = client.post(f"/candidature/{dossier.pk}/etape/1/", {"adresse": "piratée"})
    submitted = client.post(f"/candidature/{dossier.pk}/deposer/")
    invited = client.post(f"/candidature/{dossier.pk}/inviter/", {"email": "x@y.test"})

    dossier.refresh_from_db()
    assert (saved.status_code, submitted.status_code, invited.status_code) == (404, 404, 404)
    assert (dossier.adresse, dossier.statut, dossier.acces.count()) == ("", "brouillon", 1)


def test_step_saves_the_draft_and_goes_on(client, applicant, dossier):
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/etape/3/",
        {"motivations": "Parce que la transition se fera avec les habitant·es.", "continuer": "1"},
    )

    dossier.refresh_from_db()
    assert response.headers["Location"] == f"/candidature/{dossier.pk}/etape/4/"
    assert (
        answer_of(dossier, "motivations") == "Parce que la transition se fera avec les habitant·es."
    )


def test_step_with_bad_input_shows_french_errors_and_loses_nothing(client, applicant, dossier):
    dossier.adresse = "1 rue Cyrille Ficheux"
    dossier.save()
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/etape/1/",
        {
            "adresse": "Place de la République",
            "code_postal": "627",
            "telephone": "appelez-nous",
            "email_contact": "pas-une-adresse",
        },
    )

    content = page_text(response)
    dossier.refresh_from_db()
    assert "Le code postal compte 5 chiffres, par exemple 62000." in content
    assert "Saisissez un numéro de téléphone français à 10 chiffres" in content
    assert "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr." in content
    assert 'value="Place de la République"' in content
    assert dossier.adresse == "1 rue Cyrille Ficheux"


def test_step_of_a_submitted_dossier_is_read_only(client, applicant, appel):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    client.post(f"/candidature/{dossier.pk}/deposer/")

    response = client.post(
        f"/candidature/{dossier.pk}/etape/3/", {"motivations": "changée après dépôt"}, follow=True
    )

    dossier.refresh_from_db()
    assert "Ce dossier est déposé : rouvrez-le pour le modifier." in page_text(response)
    assert answer_of(dossier, "motivations") != "changée après dépôt"


def test_upload_of_a_real_pdf_joins_it(client, applicant, dossier):
    client.force_login(applicant)
    pdf = tiny_pdf_bytes("Notre lettre")

    response = client.post(
        f"/candidature/{dossier.pk}/etape/4/",
        {"lettre": SimpleUploadedFile("Lettre Loos.pdf", pdf, "application/pdf")},
    )

    piece = PieceJointe.objects.get()
    assert response.headers["Location"] == f"/candidature/{dossier.pk}/etape/4/"
    assert (piece.nom_original, piece.type_mime, piece.taille) == (
        "Lettre Loos.pdf",
        "application/pdf",
        len(pdf),
    )
    downloaded = client.get(f"/candidature/{dossier.pk}/pieces/{piece.pk}/")
    assert b"".join(downloaded.streaming_content) == pdf


def test_upload_of_a_disguised_file_is_refused_in_french(client, applicant, dossier):
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/etape/4/",
        {"lettre": SimpleUploadedFile("lettre.pdf", b"MZ\x90\x00binary")},
    )

    assert (
        "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, quel que soit son nom."
        in page_text(response)
    )
    assert PieceJointe.objects.count() == 0


def test_upload_refused_beside_one_accepted_lists_the_accepted_one(client, applicant, dossier):
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/etape/4/",
        {
            "lettre": SimpleUploadedFile("Lettre Loos.pdf", tiny_pdf_bytes(), "application/pdf"),
            "complement": SimpleUploadedFile("annexe.pdf", b"MZ\x90\x00binary"),
        },
    )

    content = page_text(response)
    piece = PieceJointe.objects.get()
    assert piece.nom_original == "Lettre Loos.pdf"
    assert (
        f'<td><a href="/candidature/{dossier.pk}/pieces/{piece.pk}/">Lettre Loos.pdf</a></td>'
        in content
    )
    assert "« Lettre Loos.pdf » est joint au dossier." in content
    assert "Le contenu de ce fichier n'est pas un document PDF" in content


def test_files_of_a_dossier_are_404_to_other_applicants_and_anonymous(
    client, other_applicant, applicant, appel
):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    client.post(f"/candidature/{dossier.pk}/deposer/")
    piece = dossier.pieces.get()
    urls = [f"/candidature/{dossier.pk}/pieces/{piece.pk}/", f"/candidature/{dossier.pk}/recu/1/"]
    client.logout()

    anonymous = [client.get(url).status_code for url in urls]
    client.force_login(other_applicant)
    other = [client.get(url).status_code for url in urls]

    assert (anonymous, other) == ([404, 404], [404, 404])


def test_staff_with_view_permission_downloads_the_receipt(
    client, applicant, appel, django_capture_on_commit_callbacks
):
    from cerdd_ami.permissions import sync_role_permissions

    sync_role_permissions()
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    with django_capture_on_commit_callbacks(execute=True):  # the receipt's task
        client.post(f"/candidature/{dossier.pk}/deposer/")
    client.force_login(charge_de_mission())

    response = client.get(f"/candidature/{dossier.pk}/recu/1/")

    assert response.headers["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_submit_deposits_once_even_when_double_clicked(
    client, applicant, appel, mailoutbox, django_capture_on_commit_callbacks
):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)
        second = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)

    dossier.refresh_from_db()
    assert dossier.statut == "deposee"
    assert Depot.objects.filter(candidature=dossier).count() == 1
    assert len(mailoutbox) == 1
    assert f"Votre candidature est déposée sous le numéro {dossier.numero}." in page_text(first)
    assert "Ce dossier est déjà déposé." in page_text(second)


def test_submit_incomplete_lists_what_is_missing(client, applicant, dossier):
    client.force_login(applicant)

    response = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)

    content = page_text(response)
    dossier.refresh_from_db()
    assert dossier.statut == "brouillon"
    assert "Il manque la lettre de motivation." in content
    assert "Il manque les motivations de la collectivité." in content


def test_reopen_then_the_dossier_is_editable_again(client, applicant, appel):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    client.post(f"/candidature/{dossier.pk}/deposer/")

    client.post(f"/candidature/{dossier.pk}/rouvrir/")
    client.post(f"/candidature/{dossier.pk}/etape/3/", {"motivations": "Version revue."})

    dossier.refresh_from_db()
    assert (dossier.statut, answer_of(dossier, "motivations")) == ("brouillon", "Version revue.")


def test_invite_gives_the_co_referent_access_and_mails_a_link(
    client, applicant, dossier, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/candidature/{dossier.pk}/inviter/", {"email": "Elu@Loos.test"})

    assert sorted(dossier.acces.values_list("user__email", flat=True)) == [
        "elu@loos.test",
        "mairie@loos.test",
    ]
    assert mailoutbox[0].to == ["elu@loos.test"]
    assert "/connexion/lien/?jeton=" in mailoutbox[0].body


def test_invite_with_invalid_email_says_so(client, applicant, dossier):
    client.force_login(applicant)

    response = client.post(
        f"/candidature/{dossier.pk}/inviter/", {"email": "pas une adresse"}, follow=True
    )

    assert "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr." in page_text(response)
    assert dossier.acces.count() == 1


def test_my_data_downloads_the_dossier_as_json(client, applicant, appel):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)

    data = json.loads(client.get(f"/candidature/{dossier.pk}/mes-donnees/").content)

    assert data["collectivite"]["siren"] == dossier.collectivite.siren
    assert data["reponses"]["ref_tech_email"] == dossier.ref_tech_email
    assert data["acces"] == ["mairie@loos.test"]
    assert data["pieces"][0]["nom"] == "lettre-de-motivation.pdf"


def test_a_deposit_whose_receipt_is_not_issued_yet_says_so(
    client, applicant, appel, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    break_weasyprint(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)

    dossier.refresh_from_db()
    content = page_text(response)
    assert dossier.statut == "deposee"
    assert (
        f"Votre candidature est déposée sous le numéro {dossier.numero}. L'accusé de réception "
        "est en préparation : il sera envoyé aux référent·es par e-mail." in content
    )
    assert (
        '<strong class="recu-en-preparation">Accusé de réception en préparation</strong>. '
        "Votre dépôt est bien enregistré ; l'accusé de réception (PDF) est en cours de création "
        "et sera envoyé par e-mail aux référent·es, en général dans la minute. "
        f'<a href="/candidature/{dossier.pk}/">Actualiser</a>' in content
    )
    assert f'href="/candidature/{dossier.pk}/recu/1/"' not in response.content.decode()
    assert client.get(f"/candidature/{dossier.pk}/recu/1/").status_code == 404
    assert mailoutbox == []


def test_submit_says_the_receipt_is_in_preparation_then_the_page_links_it(
    client, applicant, appel, mailoutbox, django_capture_on_commit_callbacks
):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)
        # The response is built before the receipt's task runs (here: when the block ends).
        assert (Depot.objects.get(candidature=dossier).recu, mailoutbox) == ("", [])

    dossier.refresh_from_db()
    content = page_text(response)
    assert (
        f"Votre candidature est déposée sous le numéro {dossier.numero}. L'accusé de réception "
        "est en préparation : il sera envoyé aux référent·es par e-mail." in content
    )
    assert "Accusé de réception en préparation</strong>. Votre dépôt est bien enregistré" in content
    assert f'<a href="/candidature/{dossier.pk}/">Actualiser</a>' in response.content.decode()
    assert f'href="/candidature/{dossier.pk}/recu/1/"' not in response.content.decode()

    refreshed = client.get(f"/candidature/{dossier.pk}/")

    assert "en préparation" not in page_text(refreshed)
    assert "Actualiser" not in page_text(refreshed)
    assert f'href="/candidature/{dossier.pk}/recu/1/"' in refreshed.content.decode()
    assert [message.subject for message in mailoutbox] == [
        f"Accusé de réception — {dossier.numero} — {dossier.collectivite.nom}"
    ]


def _section(content: str, heading: str, closing: str) -> str:
    return re.search(rf">{heading}</h2>(.*?){closing}", content).group(1)


def test_dossier_page_lists_deposits_history_and_access_in_order(
    client, applicant, appel, django_capture_on_commit_callbacks
):
    dossier = complete_candidature(appel=appel, createur=applicant)
    client.force_login(applicant)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/candidature/{dossier.pk}/deposer/")
        client.post(f"/candidature/{dossier.pk}/rouvrir/")
        client.post(f"/candidature/{dossier.pk}/inviter/", {"email": "elu@loos.test"})
        client.post(f"/candidature/{dossier.pk}/deposer/")
    Evenement.objects.create(
        candidature=dossier, nature=Evenement.Nature.PROLONGATION, detail="par téléphone"
    )

    content = page_text(client.get(f"/candidature/{dossier.pk}/"))

    depots = list(Depot.objects.filter(candidature=dossier).order_by("-version"))
    history = [
        (format_datetime_fr(e.at), e.get_nature_display())
        for e in Evenement.objects.filter(candidature=dossier).order_by("at", "pk")
    ]
    assert re.findall(r"Accusé de réception du dépôt n° (\d)", content) == ["2", "1"]
    assert [depot.version for depot in depots] == [2, 1]
    assert [
        (when, what.strip())
        for when, what in re.findall(
            r"<li><time [^>]*>([^<]*)</time> — ([^<(,]*)", _section(content, "Historique", "</ol>")
        )
    ] == history
    assert [what for _, what in history] == [
        "Dossier déposé",
        "Dossier rouvert",
        "Co-référent·e invité·e",
        "Dossier déposé",
        "Prolongation accordée",
    ]
    assert re.findall(r"<li>([^<]*)</li>", _section(content, "Personnes ayant accès", "</ul>")) == [
        "mairie@loos.test (a créé le dossier)",
        "elu@loos.test",
    ]
    assert ", par mairie@loos.test</li>" in _section(content, "Historique", "</ol>")
    assert "(par téléphone)</li>" in _section(content, "Historique", "</ol>")


@pytest.mark.parametrize("rows", [1, 5])
def test_dossier_page_query_count_does_not_grow(
    client, applicant, dossier, django_assert_num_queries, rows
):
    for version in range(1, rows + 1):
        Depot.objects.create(
            candidature=dossier, version=version, submitted_at=timezone.now(), contenu={}
        )
        Evenement.objects.create(
            candidature=dossier, nature=Evenement.Nature.DEPOT, actor=applicant
        )
        if version > 1:
            AccesCandidature.objects.create(
                candidature=dossier,
                user=UserFactory(),
                role=AccesCandidature.Role.INVITE,
            )
    client.force_login(applicant)
    client.get("/")  # the session now remembers whether they take part in a cycle

    # Session, user, dossier, questionnaire, answers, pieces, deposits, history, access.
    with django_assert_num_queries(9):
        response = client.get(f"/candidature/{dossier.pk}/")

    content = page_text(response)
    assert content.count("Dossier déposé, par mairie@loos.test</li>") == rows
    assert content.count("Accusé de réception en préparation</strong>") == rows
