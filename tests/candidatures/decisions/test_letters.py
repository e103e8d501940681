"""Decision letters (candidatures.decisions.letters): one letter per outcome, template
validation.
"""

import io
import re
import zoneinfo
from datetime import date, datetime

import pypdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.html import escape
from PIL import Image

from candidatures.decisions import letter_templates, letters
from candidatures.decisions import services as decisions_services
from candidatures.models import Candidature, Collectivite, Decision, Issue, ModeleCourrier
from tests.candidatures.decisions.letters_helpers import (
    MOTIVATIONS,
    NBSP,
    NNBSP,
    WJ,
    WORDING,
    _seed_letter,
    decide,
    deposee,
    read_pdf,
)
from tests.candidatures.factories import AppelFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db


# Overrides the directory's arras (conftest.py): the letters' Arras is dossier 7.
@pytest.fixture
def arras(appel):
    return deposee(appel, 7)


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


@pytest.mark.parametrize("issue", list(Issue))
def test_another_programme_starts_from_letters_naming_its_own_call(appel, arras, issue):
    appel.programme = "Alimentation durable"
    appel.titre = "Alimentation durable en Hauts-de-France — 2027"
    appel.save()
    letter_templates.ensure_modeles_courrier(appel)
    decision = decide(arras, issue)

    _reader, pages = read_pdf(letters.render_letter_pdf(decision))
    text = " ".join(pages)

    # The subject line, in every outcome's letter.
    assert "cycle de qualification « Alimentation durable en Hauts-de-France — 2027 »" in text
    # (The référente's own title, « démocratie participative », is hers, not the programme's.)
    assert "territoires participatifs" not in text.lower()
    assert "participation citoyenne" not in text.lower()
    assert "Carto Party" not in text
    assert "Alimentation durable en Hauts-de-France" in text
    assert MOTIVATIONS[issue] in text


def test_first_programme_keeps_its_seed_texts_word_for_word(appel):
    for issue in Issue:
        assert letter_templates.seed_text(issue, appel) == letter_templates.SEED_TEXTS[issue]


def test_another_programme_name_brings_no_template_syntax(appel):
    appel.programme = "Nature {% if x %}"
    _objet, corps = letter_templates.seed_text(Issue.NON_RETENUE, appel)

    letter_templates.validate_letter_template(corps)
    assert "programme Nature ( % if x  %)" in corps


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


def test_admin_new_letter_text_starts_from_the_seed_naming_the_call(staff_client):
    alimentation = AppelFactory(programme="Alimentation durable")
    url = "/admin/candidatures/modelecourrier/add/?issue=non_retenue"

    def corps(query=""):
        content = page_text(staff_client.get(url + query))
        return re.search(r'<textarea name="corps"[^>]*>(.*?)</textarea>', content).group(1)

    assert "programme Alimentation durable" in corps(f"&appel={alimentation.pk}")
    assert "participati" not in corps(f"&appel={alimentation.pk}")
    assert "programme Territoires participatifs" in corps()
    # A malformed call id is ignored: the first programme's seed.
    assert "programme Territoires participatifs" in corps("&appel=x")
