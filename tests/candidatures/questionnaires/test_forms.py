"""The form built from a step's questions: one field per type, French messages, nothing lost
(property-based), the same number of queries for 3 and 30 questions."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidatures.dossiers import services
from candidatures.questionnaires.forms import QuestionnaireForm
from candidatures.questionnaires.models import AUTRE, EtapeQuestionnaire, Question, Reponse
from tests.candidatures.factories import AppelFactory, CandidatureFactory, answer_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

SIX_QUESTIONS = [
    {
        "titre": "Votre projet alimentaire",
        "intro": "Décrivez le projet de la collectivité.",
        "questions": [
            {
                "code": "projet",
                "libelle": "Décrivez votre projet alimentaire territorial",
                "type": "texte_long",
                "options": {"min_caracteres": 20, "max_caracteres": 2000},
            },
            {
                "code": "leviers",
                "libelle": "Leviers mobilisés",
                "type": "choix_multiple",
                "options": {"choix": ["Restauration collective", "Circuits courts"], "autre": True},
            },
            {
                "code": "repas",
                "libelle": "Nombre de repas servis par jour",
                "type": "nombre",
                "options": {"min": 0, "max": 100000},
            },
            {"code": "debut", "libelle": "Date de début du projet", "type": "date"},
            {"code": "pat", "libelle": "Un PAT est-il labellisé ?", "type": "oui_non"},
            {
                "code": "diagnostic",
                "libelle": "Diagnostic alimentaire",
                "type": "fichier",
                "obligatoire": False,
                "options": {"formats": ["pdf"], "plusieurs": False},
            },
        ],
    }
]


@pytest.fixture
def appel():
    return AppelFactory(questionnaire=SIX_QUESTIONS)


def form_for(appel, data=None, files=None, valeurs=None):
    etape = EtapeQuestionnaire.objects.get(appel=appel)
    questions = list(etape.questions.all())
    return QuestionnaireForm(data, files, etape=etape, questions=questions, valeurs=valeurs)


def form_for_step(appel, ordre):
    etape = EtapeQuestionnaire.objects.get(appel=appel, ordre=ordre)
    return QuestionnaireForm(etape=etape, questions=list(etape.questions.all()))


def test_form_has_one_field_per_question_of_its_type(appel):
    form = form_for(appel)

    assert list(form.fields) == [
        "projet",
        "leviers",
        "leviers_autre",
        "repas",
        "debut",
        "pat",
        "diagnostic",
    ]
    kinds = {name: type(field).__name__ for name, field in form.fields.items()}
    assert kinds == {
        "projet": "TextAnswerField",
        "leviers": "MultipleChoiceField",
        "leviers_autre": "CharField",
        "repas": "FrenchDecimalField",
        "debut": "DateField",
        "pat": "TypedChoiceField",
        "diagnostic": "FileField",
    }
    assert form.fields["leviers"].choices == [
        ("Restauration collective", "Restauration collective"),
        ("Circuits courts", "Circuits courts"),
        (AUTRE, "Autre"),
    ]
    assert all(not field.required for field in form.fields.values())


def test_form_answers_are_stored_as_typed_values(appel):
    form = form_for(
        appel,
        {
            "projet": "  Un projet pour nos cantines.  ",
            "leviers": ["Circuits courts", AUTRE],
            "leviers_autre": "Jardins partagés",
            "repas": "1 200,5",
            "debut": "2025-09-01",
            "pat": "oui",
        },
    )

    assert form.is_valid(), form.errors
    stored = {question.code: value for question, value in form.answers().items()}
    assert stored == {
        "projet": "Un projet pour nos cantines.",
        "leviers": {"choix": ["Circuits courts", AUTRE], "autre": "Jardins partagés"},
        "repas": "1200.5",
        "debut": "2025-09-01",
        "pat": True,
    }
    displayed = {
        question.code: question.display(value) for question, value in form.answers().items()
    }
    assert displayed == {
        "projet": "Un projet pour nos cantines.",
        "leviers": "Circuits courts, Autre : Jardins partagés",
        "repas": "1200,5",
        "debut": "1er septembre 2025",
        "pat": "Oui",
    }


def test_form_shows_saved_answers_again(appel):
    questions = {q.code: q for q in Question.objects.filter(etape__appel=appel)}
    form = form_for(
        appel,
        valeurs={
            questions["leviers"].pk: {"choix": [AUTRE], "autre": "Marchés"},
            questions["pat"].pk: False,
            questions["repas"].pk: "12",
        },
    )

    assert form["leviers"].value() == [AUTRE]
    assert form["leviers_autre"].value() == "Marchés"
    assert form["pat"].value() == "non"
    assert form["repas"].value() == "12"


def test_form_autre_without_text_says_what_to_do(appel):
    form = form_for(appel, {"leviers": [AUTRE], "leviers_autre": " "})

    assert form.errors == {"leviers_autre": ["Précisez votre réponse « Autre »."]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("repas", "douze", "Saisissez un nombre, par exemple 12 ou 12,5."),
        ("repas", "-1", "Saisissez un nombre supérieur ou égal à 0."),
        ("repas", "100001", "Saisissez un nombre inférieur ou égal à 100000."),
        ("debut", "31/02/2025", "Saisissez une date valide, par exemple 15/03/2025."),
        ("pat", "peut-être", "Répondez par oui ou par non."),
        ("leviers", ["Cantines"], "Choisissez parmi les réponses proposées."),
        (
            "projet",
            "x" * 2001,
            "Assurez-vous que cette valeur comporte au plus 2000 caractères (actuellement 2001).",
        ),
    ],
)
def test_form_bad_input_gets_a_french_message_beside_its_field(appel, field, value, message):
    form = form_for(appel, {field: value, "projet": "Gardé tel quel."} | {field: value})

    assert form.errors == {field: [message]}
    # Nothing typed is lost: the page shows the input again.
    assert form[field].value() == value


def test_form_long_text_carries_its_limits_for_the_counter_and_says_them(appel):
    """static/js/compteur.js reads maxlength and data-min-caracteres; the help text says the
    same without JavaScript."""
    form = form_for(appel)

    html = str(form["projet"])
    assert 'maxlength="2000"' in html
    assert 'data-compteur="1"' in html
    assert 'data-min-caracteres="20"' in html
    assert form.fields["projet"].help_text == "20 caractères au moins, 2\u202f000 au plus."


def test_form_long_text_without_minimum_counts_up_to_its_maximum_only():
    appel = AppelFactory()  # the standard questions: 5 000 characters at most, no minimum
    form = form_for_step(appel, 1)

    html = str(form["motivations"])
    assert 'maxlength="5000"' in html
    assert 'data-compteur="1"' in html
    assert "data-min-caracteres" not in html
    assert "caractères au moins" not in form.fields["motivations"].help_text


def test_form_long_text_counts_a_line_break_as_one_character_as_the_browser_does(appel):
    # Chromium lets 2 000 characters through, its line breaks counted once, and sends each
    # as « \r\n ».
    typed = "Cantines.\r\n" + "x" * 1990

    form = form_for(appel, {"projet": typed})

    assert form.is_valid(), form.errors
    stored = {question.code: value for question, value in form.answers().items()}
    assert stored["projet"] == "Cantines.\n" + "x" * 1990
    assert len(stored["projet"]) == 2000


def test_form_file_question_accepts_only_its_formats(appel):
    dossier = CandidatureFactory(appel=appel)
    question = Question.objects.get(etape__appel=appel, code="diagnostic")
    image = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")

    with pytest.raises(ValidationError) as refused:
        services.add_piece(
            candidature=dossier, user=UserFactory(), question=question, uploaded_file=image
        )

    assert refused.value.messages == [
        "Le contenu de ce fichier n'est pas un document PDF, quel que soit son nom."
    ]
    assert dossier.pieces.count() == 0


KINDS = {
    "email": ("contact", "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr."),
    "telephone": (
        "tel",
        "Saisissez un numéro de téléphone français à 10 chiffres, par exemple 03 21 00 00 00.",
    ),
    "url": ("site", "Saisissez une adresse web valide, par exemple https://www.mairie.fr."),
    "nombre": ("nombre", "Saisissez un nombre, par exemple 12 ou 12,5."),
    "date": ("quand", "Saisissez une date valide, par exemple 15/03/2025."),
    "texte_court": ("court", None),
}


@pytest.fixture
def every_kind():
    steps = [
        {
            "titre": "Tout",
            "questions": [
                {"code": code, "libelle": code.title(), "type": kind}
                for kind, (code, _message) in KINDS.items()
            ],
        }
    ]
    appel = AppelFactory(questionnaire=steps)
    return CandidatureFactory(appel=appel)


@PROPERTY
@given(kind=st.sampled_from(sorted(KINDS)), text=st.text(max_size=60))
def test_any_input_is_stored_or_refused_in_french_with_nothing_saved(every_kind, kind, text):
    dossier = every_kind
    code, message = KINDS[kind]
    Reponse.objects.filter(candidature=dossier).delete()
    form = form_for(dossier.appel, {code: text})

    if form.is_valid():
        services.save_answers(candidature=dossier, answers=form.answers())
        question = Question.objects.get(etape__appel=dossier.appel, code=code)
        stored = answer_of(dossier, code)
        assert stored == form.answers()[question]
        if kind == "nombre" and stored is not None:
            assert Decimal(stored) == form.cleaned_data[code]
        if kind == "date" and stored:
            assert date.fromisoformat(stored) == form.cleaned_data[code]
    else:
        allowed = {message, "Le caractère nul n’est pas autorisé.", "Ce nombre est trop grand."}
        allowed |= {
            "Au plus 4 chiffres après la virgule.",
            "Assurez-vous que cette valeur comporte au plus 300 caractères (actuellement "
            f"{len(text)}).",
            "Assurez-vous que cette valeur comporte au plus 500 caractères (actuellement "
            f"{len(text)}).",
            "Assurez-vous que cette valeur comporte au plus 20 caractères (actuellement "
            f"{len(text)}).",
        }
        assert set(form.errors) == {code}
        assert set(form.errors[code]) <= allowed, form.errors[code]
        assert form[code].value() == text
        assert Reponse.objects.filter(candidature=dossier).count() == 0
