"""Decision letters: exports (merged PDF, ZIP, export_lettres) and the templates' admin."""

import io
import zipfile

import pypdf
import pytest
from django.core.management import CommandError, call_command
from django.utils.html import escape

# Registers ModeleCourrierAdmin before the URLconf is built, whether or not candidatures.admin
# imports the module yet.
from candidatures.decisions import admin_courriers, letter_templates, letters
from candidatures.models import Decision, Issue
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.decisions.letters_helpers import (
    MODELES_URL,
    MOTIVATIONS,
    decide,
    deposee,
    read_pdf,
)
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.factories import charge_de_mission

pytestmark = pytest.mark.django_db


# Overrides the directory's arras (conftest.py): the letters' Arras is dossier 7.
@pytest.fixture
def arras(appel):
    return deposee(appel, 7)


@pytest.fixture
def three_decisions(appel, arras):
    """Arras (retenue), then two more communes, in the order the exports must keep."""
    second = deposee(appel, 8)
    third = deposee(appel, 9)
    return [
        decide(arras, Issue.RETENUE),
        decide(second, Issue.LISTE_ATTENTE),
        decide(third, Issue.NON_RETENUE),
    ]


# Overrides the directory's staff_client (conftest.py) without its staff fixture.
@pytest.fixture
def staff_client(client):
    sync_role_permissions()
    client.force_login(charge_de_mission(email="charge@cerdd.test"))
    return client


# ---------------------------------------------------------------------------------------------
# Exports


def test_merged_pdf_has_one_page_per_letter_in_order(three_decisions):
    steps = []

    data = letters.render_letters_merged_pdf(
        three_decisions, progress=lambda done, total, step: steps.append((done, total, step))
    )

    reader, pages = read_pdf(data)
    assert len(reader.pages) == 3
    for page, decision in zip(pages, three_decisions, strict=True):
        candidature = decision.candidature
        assert f"Dossier n° {candidature.numero} " in page
        assert f" {candidature.collectivite.nom} " in page
        assert MOTIVATIONS[decision.issue] in page
    assert steps == [
        (1, 3, "Préparation des courriers"),
        (2, 3, "Préparation des courriers"),
        (3, 3, "Préparation des courriers"),
        (0, 1, "Mise en page du PDF"),
        (1, 1, "Mise en page du PDF"),
    ]


def test_merged_pdf_accepts_a_queryset(appel, three_decisions):
    queryset = Decision.objects.filter(candidature__appel=appel).order_by("-candidature__numero")

    _, pages = read_pdf(letters.render_letters_merged_pdf(queryset))

    assert [page.split("Dossier n° ")[1][:12] for page in pages] == [
        "AMI-2021-009",
        "AMI-2021-008",
        "AMI-2021-007",
    ]


def test_zip_has_one_pdf_per_letter_named_by_collectivite(three_decisions):
    steps = []

    data = letters.letters_zip(
        three_decisions, progress=lambda done, total, step: steps.append((done, total))
    )

    expected = [letters.letter_filename(decision) for decision in three_decisions]
    assert expected[0] == "arras-ami-2021-007.pdf"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == expected
        for name, decision in zip(expected, three_decisions, strict=True):
            reader, pages = read_pdf(archive.read(name))
            assert len(reader.pages) == 1
            assert decision.candidature.collectivite.nom in pages[0]
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_empty_selection_is_refused():
    with pytest.raises(ValueError, match="la sélection est vide"):
        letters.render_letters_merged_pdf([])


@pytest.mark.parametrize("fmt", ["pdf", "zip"])
def test_export_lettres_command_writes_the_file_and_shows_progress(three_decisions, tmp_path, fmt):
    (tmp_path / "exports").mkdir()
    output = tmp_path / "exports" / f"courriers.{fmt}"
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command(
        "export_lettres",
        "--appel",
        "2021",
        "--format",
        fmt,
        "--sortie",
        str(output),
        stdout=stdout,
        stderr=stderr,
    )

    lines = stderr.getvalue().splitlines()
    assert lines[0] == (
        "3 courriers de l'appel « Vers des territoires participatifs en Hauts-de-France »."
    )
    if fmt == "pdf":
        assert lines[1:] == [
            "[######--------------] 1/3 Préparation des courriers",
            "[#############-------] 2/3 Préparation des courriers",
            "[####################] 3/3 Préparation des courriers",
            "[--------------------] 0/1 Mise en page du PDF",
            "[####################] 1/1 Mise en page du PDF",
        ]
        assert len(pypdf.PdfReader(output).pages) == 3
    else:
        assert lines[1:] == [
            "[######--------------] 1/3 Courriers PDF",
            "[#############-------] 2/3 Courriers PDF",
            "[####################] 3/3 Courriers PDF",
        ]
        with zipfile.ZipFile(output) as archive:
            assert len(archive.namelist()) == 3
    assert stdout.getvalue().startswith(f"{output} écrit : 3 courriers, ")
    assert [path.name for path in output.parent.iterdir()] == [output.name]


def test_export_lettres_command_filters_by_issue(three_decisions, tmp_path):
    output = tmp_path / "non-retenues.zip"

    call_command(
        "export_lettres",
        "--appel=2021",
        "--format=zip",
        "--issue=non_retenue",
        "--issue=liste_attente",
        f"--sortie={output}",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    with zipfile.ZipFile(output) as archive:
        assert archive.namelist() == [
            letters.letter_filename(three_decisions[1]),
            letters.letter_filename(three_decisions[2]),
        ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--appel=2030"], "Aucun appel « 2030 »."),
        (
            ["--appel=2021", "--issue=retenue"],
            "Aucune décision à exporter pour cet appel et ces issues.",
        ),
        (
            ["--appel=2021", "--date=15/04/2021"],
            "Date invalide « 15/04/2021 » : attendu AAAA-MM-JJ.",
        ),
    ],
)
def test_export_lettres_command_refuses_with_a_reason(appel, arras, tmp_path, arguments, message):
    decide(arras, Issue.NON_RETENUE)

    with pytest.raises(CommandError) as caught:
        call_command("export_lettres", *arguments, f"--sortie={tmp_path / 'x.pdf'}")

    assert str(caught.value) == message
    assert not (tmp_path / "x.pdf").exists()


def test_export_lettres_command_dates_the_letters(three_decisions, tmp_path):
    output = tmp_path / "courriers.pdf"

    call_command(
        "export_lettres",
        "--appel=2021",
        "--date=2021-04-16",
        f"--sortie={output}",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    _, pages = read_pdf(output.read_bytes())
    assert ["À Loos-en-Gohelle, le 16 avril 2021" in page for page in pages] == [True, True, True]


# ---------------------------------------------------------------------------------------------
# Admin


def test_preview_page_lists_the_calls_submitted_dossiers(staff_client, modele, arras):
    complete_candidature(appel=modele.appel)  # a draft: not listed

    response = staff_client.get(f"{MODELES_URL}{modele.pk}/previsualiser/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<option value="{arras.pk}">AMI-2021-007 — Arras</option>' in content
    assert content.count("<option ") == 1


def test_preview_without_decision_uses_a_placeholder_motivation(staff_client, modele, arras):
    response = staff_client.get(
        f"{MODELES_URL}{modele.pk}/previsualiser/", {"candidature": arras.pk}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="apercu-arras-ami-2021-007.pdf"'
    _, pages = read_pdf(response.content)
    assert "inscrite sur la liste d'attente, au rang 1." in pages[0]
    assert admin_courriers.PREVIEW_MOTIVATION in pages[0]
    assert not Decision.objects.exists()


def test_preview_uses_the_dossiers_own_decision(staff_client, modele, arras):
    decide(arras, Issue.LISTE_ATTENTE)

    response = staff_client.get(
        f"{MODELES_URL}{modele.pk}/previsualiser/", {"candidature": arras.pk}
    )

    _, pages = read_pdf(response.content)
    assert "inscrite sur la liste d'attente, au rang 2." in pages[0]
    assert MOTIVATIONS[Issue.LISTE_ATTENTE] in pages[0]


def test_preview_refuses_a_dossier_of_another_call(staff_client, modele):
    other = deposee(AppelFactory(edition_2021=True), 1)

    response = staff_client.get(
        f"{MODELES_URL}{modele.pk}/previsualiser/", {"candidature": other.pk}
    )

    assert response.status_code == 404


def test_anonymous_preview_is_sent_to_the_admin_login(client, modele):
    url = f"{MODELES_URL}{modele.pk}/previsualiser/"

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_admin_form_refuses_an_invalid_template_and_lists_placeholders(staff_client, modele):
    url = f"{MODELES_URL}{modele.pk}/change/"
    page = staff_client.get(url).content.decode()
    assert "<code>{{ collectivite_de }}</code>" in page
    assert "Prévisualiser sur un dossier" in page

    response = staff_client.post(
        url,
        {
            "appel": modele.appel.pk,
            "issue": modele.issue,
            "objet": "Votre candidature",
            "corps": "Madame,\n{% if motivation %}{{ motivation }}",
        },
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "la balise {% if %} n&#x27;est pas fermée (il manque {% endif %})" in content
    modele.refresh_from_db()
    assert modele.corps == letter_templates.SEED_TEXTS[Issue.LISTE_ATTENTE][1]


def test_admin_form_saves_a_valid_template(staff_client, modele):
    response = staff_client.post(
        f"{MODELES_URL}{modele.pk}/change/",
        {
            "appel": modele.appel.pk,
            "issue": modele.issue,
            "objet": "Votre candidature, {{ collectivite }}",
            "corps": "Madame, Monsieur,\n\nVous êtes au rang {{ rang_attente }}.",
        },
    )

    assert response.status_code == 302
    modele.refresh_from_db()
    assert modele.objet == "Votre candidature, {{ collectivite }}"


def test_admin_add_page_starts_from_the_seed_text_of_the_outcome(staff_client, appel):
    response = staff_client.get(f"{MODELES_URL}add/", {"issue": Issue.NON_RETENUE})

    assert response.status_code == 200
    content = response.content.decode()
    corps = letter_templates.SEED_TEXTS[Issue.NON_RETENUE][1]
    assert f">\n{escape(corps)}</textarea>" in content
