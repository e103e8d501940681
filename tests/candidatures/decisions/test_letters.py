import io
import zipfile
import zoneinfo
from datetime import date, datetime

import pypdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils.html import escape
from PIL import Image

# Registers ModeleCourrierAdmin before the URLconf is built, whether or not candidatures.admin
# imports the module yet.
from candidatures.decisions import admin_courriers, letter_templates, letters
from candidatures.decisions import services as decisions_services
from candidatures.models import Candidature, Collectivite, Decision, Issue, ModeleCourrier
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import AppelFactory, complete_candidature, numbered
from tests.factories import charge_de_mission
from tests.utils import pdf_pages

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
NNBSP = "\u202f"
WJ = "\u2060"  # word joiner
MODELES_URL = "/admin/candidatures/modelecourrier/"


def read_pdf(data: bytes):
    """(reader, text of each page with whitespace collapsed)."""
    return pypdf.PdfReader(io.BytesIO(data)), pdf_pages(data)


def deposee(appel, number, **fields):
    """A complete dossier, submitted (numbered) without going through the submission flow."""
    candidature = complete_candidature(appel=appel, **fields)
    candidature.statut = Candidature.Statut.DEPOSEE
    candidature.numero = numbered(appel, number)
    candidature.deposee_at = datetime(2021, 3, 1, 10, number, tzinfo=PARIS)
    candidature.save()
    return candidature


@pytest.fixture
def appel():
    return AppelFactory(edition_2021=True, slug="2021", places=12)


@pytest.fixture
def arras(appel):
    return deposee(appel, 7)


MOTIVATIONS = {
    Issue.RETENUE: "Une dynamique de transition portée par les élu·es et les habitant·es.",
    Issue.LISTE_ATTENTE: "Un projet solide, un peu moins avancé que ceux retenus.",
    Issue.NON_RETENUE: "Le binôme élu·e / technicien·ne n'est pas encore constitué.",
}

WORDING = {
    Issue.RETENUE: "la candidature d'Arras (dossier n° AMI-2021-007) est retenue pour le cycle "
    "de qualification « Vers des territoires participatifs en Hauts-de-France ».",
    Issue.LISTE_ATTENTE: "Votre candidature est inscrite sur la liste d'attente, au rang 2.",
    Issue.NON_RETENUE: "Nous ne sommes malheureusement pas en mesure de retenir la vôtre pour "
    "ce cycle.",
}


def decide(candidature, issue, **fields):
    defaults = {
        "motivation": MOTIVATIONS[issue],
        "rang_attente": 2 if issue == Issue.LISTE_ATTENTE else None,
    }
    return Decision.objects.create(candidature=candidature, issue=issue, **{**defaults, **fields})


# ---------------------------------------------------------------------------------------------
# One letter per outcome


@pytest.mark.parametrize("issue", list(Issue))
def test_each_outcome_letter_holds_the_decision_and_the_call_data(appel, arras, issue):
    letter_templates.ensure_modeles_courrier(appel)
    decision = decide(arras, issue)

    reader, pages = read_pdf(letters.render_letter_pdf(decision))

    assert len(reader.pages) == 1
    text = pages[0]
    assert "{" not in text  # no template syntax printed
    assert WJ not in text  # word joiners are invisible, absent from the text
    assert "Claire Dupont" in text
    assert "Commune d'Arras" in text
    assert WORDING[issue] in text
    assert MOTIVATIONS[issue] in text
    assert "À Loos-en-Gohelle, le 15 avril 2021" in text
    assert "Objet : Votre candidature au cycle de qualification" in text
    assert "Emmanuel Bertin directeur du Cerdd" in text
    assert (
        "Dossier n° AMI-2021-007 Affaire suivie par : Alexis Montaigne amontaigne@cerdd.org" in text
    )
    if issue != Issue.NON_RETENUE:
        assert "le 18 mai 2021 à Loos-en-Gohelle" in text
    else:
        assert "une prochaine édition de l'appel à manifestation d'intérêt" in text
    assert "Alexis Montaigne" in text


def _seed_letter(decision, **kwargs) -> str:
    _, pages = read_pdf(letters.render_letter_pdf(decision, **kwargs))
    return " ".join(pages)


def test_seed_letters_with_the_default_motivations_say_each_thing_once(appel, arras):

    letter_templates.ensure_modeles_courrier(appel)
    for number in (1, 2):  # with Arras, three retained collectivités
        decide(deposee(appel, number), Issue.RETENUE)
    texts = {}
    for issue in Issue:
        decision = decide(
            arras, issue, motivation=decisions_services.default_motivation(issue, appel)
        )
        texts[issue] = _seed_letter(decision)
        decision.delete()

    waiting = texts[Issue.LISTE_ATTENTE]
    assert waiting.count("liste d'attente") == 2
    assert waiting.count("12 places") == 1
    assert waiting.count("place se libère") == 1
    assert (
        "Votre candidature est inscrite sur la liste d'attente, au rang 2. Le jury a apprécié "
        "votre candidature, solide, même si la dynamique engagée est un peu moins avancée que "
        "celle des collectivités retenues. Si une place se libère, nous vous la proposerons"
    ) in waiting
    refused = texts[Issue.NON_RETENUE]
    assert refused.count("12") == 1
    assert (
        "Le jury a examiné avec attention chacune des candidatures reçues, pour 12 places. Nous "
        "ne sommes malheureusement pas en mesure de retenir la vôtre pour ce cycle. Le jury a "
        "retenu les candidatures dont la dynamique participative et de transition répondait le "
        "mieux aux critères de l'appel."
    ) in refused
    assert (
        "Bienvenue dans ce cycle ! 3 collectivités le suivront ensemble, de mai 2021 à mars 2022, "
        "au fil de sept journées de travail entre pairs"
    ) in texts[Issue.RETENUE]


def test_retained_letter_with_a_single_collectivite_and_after_the_first_session(appel, arras):
    letter_templates.ensure_modeles_courrier(appel)
    decision = decide(arras, Issue.RETENUE)

    before = _seed_letter(decision, letter_date=date(2021, 4, 15))
    after = _seed_letter(decision, letter_date=date(2021, 6, 2))

    assert (
        "Bienvenue dans ce cycle ! Il se tiendra de mai 2021 à mars 2022, au fil de sept "
        "journées de travail entre pairs, élu·es et technicien·nes. La première journée aura "
        "lieu le 18 mai 2021 à Loos-en-Gohelle : nous vous adresserons d'ici là le programme"
    ) in before
    assert (
        "La première journée a eu lieu le 18 mai 2021 à Loos-en-Gohelle : nous vous adressons "
        "sans attendre le programme des prochaines séances, ainsi qu'un court questionnaire pour "
        "construire avec vous leur contenu à partir de vos besoins."
    ) in after
    assert "aura lieu" not in after
    assert "collectivité le suivra" not in before + after


def test_waiting_list_letter_after_the_first_session(appel, arras):
    letter_templates.ensure_modeles_courrier(appel)
    decision = decide(arras, Issue.LISTE_ATTENTE)

    text = _seed_letter(decision, letter_date=date(2021, 5, 19))

    assert (
        "Le cycle a commencé le 18 mai 2021 à Loos-en-Gohelle et se poursuit de mai 2021 à "
        "mars 2022."
    ) in text
    assert "est prévue" not in text


def test_letter_context_gives_every_placeholder(appel, arras):
    decide(deposee(appel, 8), Issue.RETENUE)
    decision = decide(arras, Issue.LISTE_ATTENTE, retour_jury="Belle lettre de motivation.")

    context = letters.letter_context(decision)

    assert list(context) == [name for name, _ in letter_templates.PLACEHOLDERS]
    assert context["collectivite"] == "Arras"
    assert context["collectivite_de"] == "d'Arras"
    assert str(context["referent_politique"]) == (
        "Claire Dupont, Adjointe déléguée à la démocratie participative"
    )
    assert context["referent_technique"].nom == "Julien Martin"
    assert context["issue"] == "Liste d'attente"
    assert context["motivation"] == MOTIVATIONS[Issue.LISTE_ATTENTE]
    assert context["retour_jury"] == "Belle lettre de motivation."
    assert context["places"] == 12
    assert context["nb_retenues"] == 1
    assert context["cycle_dates"] == "de mai 2021 à mars 2022"
    assert context["premiere_seance_date"] == "18 mai 2021"
    assert context["premiere_seance_lieu"] == "Loos-en-Gohelle"
    assert context["contact"] == letter_templates.Personne(
        "Alexis Montaigne",
        "chargé de mission citoyenneté et développement durable",
        "amontaigne@cerdd.org",
    )
    assert context["date_courrier"] == "15 avril 2021"
    assert context["numero"] == "AMI-2021-007"
    assert context["rang_attente"] == 2
    assert context["signataire"].nom == "Emmanuel Bertin"


@pytest.mark.parametrize(
    ("siren", "nom", "nom_de", "destinataire"),
    [
        ("216200410", "Arras", "d'Arras", "Commune d'Arras"),
        (
            "200033579",
            "Communauté urbaine d'Arras",
            "de la Communauté urbaine d'Arras",
            "Communauté urbaine d'Arras",
        ),
        (
            "200093201",
            "Métropole Européenne de Lille",
            "de la Métropole Européenne de Lille",
            "Métropole Européenne de Lille",
        ),
    ],
)
def test_collectivite_names_in_the_letter(appel, siren, nom, nom_de, destinataire):
    collectivite = Collectivite.objects.get(siren=siren)
    decision = decide(deposee(appel, 3, collectivite=collectivite), Issue.RETENUE)

    context = letters.letter_context(decision)
    _, pages = read_pdf(letters.render_letter_pdf(decision))

    assert (context["collectivite"], context["collectivite_de"]) == (nom, nom_de)
    assert f"Adjointe déléguée à la démocratie participative {destinataire} Hôtel" in pages[0]
    assert f"la candidature {nom_de} (dossier n° AMI-2021-003) est retenue" in pages[0]


def test_letter_date_is_the_publication_date_once_published(appel, arras):
    decision = decide(arras, Issue.RETENUE)
    assert letters.letter_context(decision)["date_courrier"] == "15 avril 2021"

    # 23:30 UTC on 15 April is already 16 April in Paris.
    decision.published_at = datetime(2021, 4, 15, 23, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert letters.letter_context(decision)["date_courrier"] == "16 avril 2021"
    assert letters.letter_context(decision, letter_date=date(2021, 5, 1))["date_courrier"] == (
        "1er mai 2021"
    )


@pytest.mark.parametrize(
    ("first_session", "expected"),
    [
        (date(2021, 5, 18), "de mai 2021 à mars 2022"),
        (date(2021, 10, 4), "d'octobre 2021 à août 2022"),
        (date(2022, 1, 10), "de janvier 2022 à novembre 2022"),
        (None, ""),
    ],
)
def test_cycle_dates_follow_the_first_session(appel, arras, first_session, expected):
    appel.first_session_date = first_session
    decision = decide(arras, Issue.RETENUE)

    assert letters.letter_context(decision)["cycle_dates"] == expected


def test_french_typography_is_applied_to_the_rendered_text(appel, arras):
    decision = decide(arras, Issue.RETENUE, retour_jury="Bravo !")

    html = letters.render_letter_html(decision)

    assert f"Le jury a souhaité vous transmettre ce retour{NBSP}: Bravo{NNBSP}!" in html
    assert f"Bienvenue dans ce cycle{NNBSP}!" in html
    # Hyphenated words stay on one line: a word joiner after each hyphen.
    assert f"«{NBSP}Vers des territoires participatifs en Hauts-{WJ}de-{WJ}France{NBSP}»" in html
    assert f"dossier n°{NBSP}AMI-{WJ}2021-{WJ}007" in html
    assert "À Loos-en-Gohelle, le 15 avril 2021" in html


def test_a_call_template_replaces_the_seed_text_and_is_escaped(appel, arras):
    ModeleCourrier.objects.create(
        appel=appel,
        issue=Issue.NON_RETENUE,
        objet="Réponse à {{ collectivite }}",
        corps="Madame, Monsieur,\n\n{% if retour_jury %}Retour: {{ retour_jury|safe }}{% endif %}\n"
        "Places : {{ places }}, retenues : {{ nb_retenues }}.\n\n\n\nMotivation : {{ motivation }}",
    )
    decision = decide(arras, Issue.NON_RETENUE, retour_jury="<b>Bien</b> & clair")

    html = letters.render_letter_html(decision)

    assert (
        '<p class="subject"><span class="subject-label">Objet&nbsp;:</span> Réponse à Arras</p>'
        in html
    )
    body = html[html.index('<div class="corps">') : html.index('<div class="signature">')]
    assert body == (
        '<div class="corps"><p>Madame, Monsieur,</p>'
        f"<p>Retour{NBSP}: &lt;b&gt;Bien&lt;/b&gt; &amp; clair<br>"
        f"Places{NBSP}: 12, retenues{NBSP}: 0.</p>"
        f"<p>Motivation{NBSP}: {escape(MOTIVATIONS[Issue.NON_RETENUE])}</p></div>"
    )


def test_unsaved_objects_render_with_the_seed_text():
    appel = AppelFactory.build(edition_2021=True)
    candidature = Candidature(
        appel=appel,
        collectivite=Collectivite.objects.get(insee="62041"),
        numero="AMI-2021-042",
        ref_pol_nom="Claire Dupont",
    )
    decision = Decision(
        candidature=candidature, issue=Issue.NON_RETENUE, motivation="Une motivation."
    )

    _, pages = read_pdf(letters.render_letter_pdf(decision))

    assert "la candidature d'Arras (dossier n° AMI-2021-042)" in pages[0]
    assert "Une motivation." in pages[0]
    assert not Decision.objects.exists()


def test_signature_image_is_embedded(appel, arras):
    image = io.BytesIO()
    Image.new("RGB", (120, 40), "white").save(image, format="PNG")
    appel.signature.save("signature.png", ContentFile(image.getvalue()))
    decision = decide(arras, Issue.RETENUE)

    html = letters.render_letter_html(decision)
    pdf = letters.render_letter_pdf(decision)

    assert '<img class="signature-image" src="data:image/png;base64,' in html
    assert 'alt="Signature de Emmanuel Bertin"' in html
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1


def test_ensure_modeles_courrier_creates_missing_texts_only(appel):
    ModeleCourrier.objects.create(
        appel=appel, issue=Issue.RETENUE, objet="Bienvenue", corps="Texte revu par l'équipe."
    )

    letter_templates.ensure_modeles_courrier(appel)
    letter_templates.ensure_modeles_courrier(appel)

    modeles = {m.issue: m for m in ModeleCourrier.objects.filter(appel=appel)}
    assert set(modeles) == {Issue.RETENUE, Issue.LISTE_ATTENTE, Issue.NON_RETENUE}
    assert modeles[Issue.RETENUE].corps == "Texte revu par l'équipe."
    assert modeles[Issue.NON_RETENUE].corps == letter_templates.SEED_TEXTS[Issue.NON_RETENUE][1]


# ---------------------------------------------------------------------------------------------
# Template validation


@pytest.mark.parametrize("issue", list(Issue))
def test_seed_texts_are_valid(issue):
    objet, corps = letter_templates.SEED_TEXTS[issue]
    letter_templates.validate_letter_template(objet)
    letter_templates.validate_letter_template(corps)


@pytest.mark.parametrize(
    ("corps", "message"),
    [
        (
            "Madame,\n\n{% if motivation %}{{ motivation }}",
            "Modèle invalide, ligne 3 : la balise {% if %} n'est pas fermée "
            "(il manque {% endif %}).",
        ),
        (
            "{% if motivation %}{{ motivation }}{% endfor %}",
            "Modèle invalide, ligne 1 : {% endfor %} est inattendue ici, {% elif %}, "
            "{% else %} ou {% endif %} était attendue.",
        ),
        ("{{ motivation|majuscules }}", "Modèle invalide : le filtre « majuscules » n'existe pas."),
        (
            "Bonjour {{ collectivté }},",
            "Variable inconnue : {{ collectivté }}. Les variables possibles sont listées sous "
            "le champ.",
        ),
        (
            "{% if rang %}Rang {{ rang }}{% endif %} {{ contact.telephone }}",
            "Variables inconnues : {{ rang }}, {{ contact.telephone }}. Les variables possibles "
            "sont listées sous le champ.",
        ),
        (
            "{% if contact.telephone %}Tél. {{ contact.telephone }}{% endif %}"
            "{{ motivation|default:raison }}{% if issue == autre_issue %}…{% endif %}",
            "Variables inconnues : {{ contact.telephone }}, {{ raison }}, {{ autre_issue }}. "
            "Les variables possibles sont listées sous le champ.",
        ),
        (
            "{{ collectivite.nom }} {{ template }}",
            "Variables inconnues : {{ collectivite.nom }}, {{ template }}. Les variables "
            "possibles sont listées sous le champ.",
        ),
        (
            "{% load static %}{% static 'logo.png' %}",
            "Modèle invalide, ligne 1 : la balise {% load %} n'est pas autorisée dans un courrier.",
        ),
        (
            "{% include 'pdf/recu.html' %}",
            "Modèle invalide, ligne 1 : la balise {% include %} n'est pas autorisée dans un "
            "courrier.",
        ),
    ],
)
def test_invalid_templates_are_refused_with_the_reason(corps, message):
    with pytest.raises(ValidationError) as caught:
        letter_templates.validate_letter_template(corps)
    assert caught.value.messages == [message]


def test_known_variables_and_conditions_are_accepted():
    letter_templates.validate_letter_template(
        "{{ referent_politique.nom }}, {{ referent_politique }} — {{ contact.email }}\n"
        "{% if rang_attente %}{{ rang_attente }}{% else %}—{% endif %} "
        "{{ nb_retenues }} collectivité{{ nb_retenues|pluralize }} {{ issue|lower }}"
    )


# ---------------------------------------------------------------------------------------------
# Exports


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


@pytest.fixture
def staff_client(client):
    sync_role_permissions()
    client.force_login(charge_de_mission(email="charge@cerdd.test"))
    return client


@pytest.fixture
def modele(appel):
    letter_templates.ensure_modeles_courrier(appel)
    return ModeleCourrier.objects.get(appel=appel, issue=Issue.LISTE_ATTENTE)


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
